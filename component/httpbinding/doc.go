// Package httpbinding is the "bindings.http" output binding
// (components-contrib bindings/http): each call is an HTTP request to the
// component's url (plus the request's path metadata), with the operation
// as the method (create is POST), the data as the body of POST, PUT and
// PATCH, and every request metadata name that starts with an upper-case
// letter as a header. The response body is the binding's data; its status
// and headers are the response metadata (statusCode, status, and each
// header), which the Bindings API returns as metadata.<name> headers. A
// status other than 2xx is an error unless errorIfNot2XX is false (in the
// component or the request).
package httpbinding
