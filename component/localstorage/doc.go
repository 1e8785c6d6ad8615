// Package localstorage is the "bindings.localstorage" output binding
// (components-contrib bindings/localstorage): files under the component's
// rootPath, with the operations create (write data to the request's
// fileName, or a new UUID name), get (read), delete and list (every file
// below a directory, as absolute paths).
//
// As in contrib, create first unquotes data that is a JSON string and then
// base64-decodes it when it is valid base64. A fileName is confined to the
// root: it is cleaned as if the root were "/" (so "../x" is "x"), and the
// file operations go through an os.Root, so a symbolic link that leads out
// of the root is refused rather than followed.
package localstorage
