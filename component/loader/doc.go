// Package loader reads daprd resource files: Component documents from the
// --resources-path folders and the Configuration files named by --config,
// with daprd's rules (runtime-http.md §7), and creates the state stores they
// describe through the component registry.
//
// What it owns: file discovery (every *.yaml / *.yml of each folder, not
// recursive, multi-document files split on "\n---" lines as daprd does),
// apiVersion/kind matching, name validation, namespace and scope filtering,
// duplicate detection, metadata value resolution (value, envRef with
// DAPR_ENV_KEYS, secretKeyRef through the built-in local secret stores
// secretstores.local.env and secretstores.local.file), and the daprd error
// texts of a component that cannot be created or initialised.
//
// Invariants:
//  1. Components are returned in daprd's order: folder order, then file
//     name order inside a folder, then document order inside a file.
//  2. A YAML syntax error or an invalid name only skips the documents
//     concerned (logged as a warning); duplicates and unreadable folders are
//     errors for the whole load, as in daprd.
//  3. envRef never reads APP_API_TOKEN, DAPR_* or names with spaces, and
//     reads only names listed in DAPR_ENV_KEYS when that variable is set.
//  4. A metadata value that cannot be resolved (secret store missing,
//     secret absent) makes the component fail at InitState with a daprd-style
//     message, so ignoreErrors applies to it like to any init failure.
//
// Called once from cmd/statecar's main goroutine at start-up; nothing here
// is safe for concurrent use, and nothing is needed after start-up.
package loader
