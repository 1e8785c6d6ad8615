package redis

// sameSlot reports whether every op's key maps to one Redis Cluster slot.
func sameSlot(ops []op) bool {
	if len(ops) == 0 {
		return true
	}
	first := keySlot(ops[0].key)
	for i := 1; i < len(ops); i++ {
		if keySlot(ops[i].key) != first {
			return false
		}
	}
	return true
}

// keySlot is Redis Cluster's HASH_SLOT: CRC16 (XMODEM) of the key, or of the
// first non-empty {hash tag} in it, modulo 16384.
func keySlot(key string) uint16 {
	for i := 0; i < len(key); i++ {
		if key[i] == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j > i+1 {
						key = key[i+1 : j]
					}
					return crc16(key) & 16383
				}
			}
			break
		}
	}
	return crc16(key) & 16383
}

// crc16 is CRC-16/XMODEM (poly 0x1021, init 0), as Redis Cluster uses.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
