package server

import (
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/proto"

	"github.com/statecar/statecar/api"
)

// The Cryptography API routes (other-building-blocks.md §11; daprd
// pkg/api/http/crypto.go and subtlecrypto.go). statecar loads no crypto
// components, so encrypt and decrypt answer as daprd without them (500
// ERR_CRYPTO_PROVIDERS_NOT_CONFIGURED, checked before anything else), and
// the subtle crypto routes answer as daprd's default build, which leaves
// that API out (501 ERR_API_UNIMPLEMENTED after the protojson body).

// handleCrypto is PUT /v1.0-alpha1/crypto/{name}/encrypt|decrypt.
func (s *Runtime) handleCrypto(w response, _ request) {
	sc := getScratch()
	defer putScratch(sc)
	s.writeError(w, api.NewCryptoProvidersNotConfigured(), sc)
}

// subtleCryptoBody returns the request type of a subtle crypto operation,
// or nil for no operation.
func subtleCryptoBody(op string) proto.Message {
	switch op {
	case "getkey":
		return &runtimev1pb.SubtleGetKeyRequest{}
	case "encrypt":
		return &runtimev1pb.SubtleEncryptRequest{}
	case "decrypt":
		return &runtimev1pb.SubtleDecryptRequest{}
	case "wrapkey":
		return &runtimev1pb.SubtleWrapKeyRequest{}
	case "unwrapkey":
		return &runtimev1pb.SubtleUnwrapKeyRequest{}
	case "sign":
		return &runtimev1pb.SubtleSignRequest{}
	case "verify":
		return &runtimev1pb.SubtleVerifyRequest{}
	}
	return nil
}

// handleSubtleCrypto is POST /v1.0-alpha1/subtlecrypto/{name}/{op}.
func (s *Runtime) handleSubtleCrypto(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	ps := splitPath(r.rawPath())
	if e := universalBody(r, subtleCryptoBody(ps.s[3])); e != nil {
		s.writeError(w, e, sc)
		return
	}
	s.writeError(w, api.NewAPIUnimplemented(), sc)
}
