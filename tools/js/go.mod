module watchparty/tools/js

// This module holds no Go code. It keeps tools/js/node_modules (where an npm
// package may carry Go files) out of the main module and so out of ./...

go 1.26
