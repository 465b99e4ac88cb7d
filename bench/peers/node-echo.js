// TLS echo server for the benchmark, Node.js `tls`: node node-echo.js CERT KEY
// Prints the OS-chosen port on stdout, then echoes every byte of every connection.
const tls = require('tls');
const fs = require('fs');
const [cert, key] = process.argv.slice(2);
const server = tls.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (socket) => {
  socket.setNoDelay(true);
  socket.pipe(socket);            // pipe() applies backpressure: pauses reads while writes queue
  socket.on('error', () => socket.destroy());
});
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
