// nio-echo CERT KEY [THREADS]: prints the OS-chosen port, then echoes every byte over TLS.
// Echo as SwiftNIO's own examples write it, plus backpressure: stop reading while the
// channel is not writable, resume when it is.
import NIOCore
import NIOPosix
import NIOSSL
#if canImport(Glibc)
import Glibc
#endif

final class EchoHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var pendingRead = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable { context.read() } else { pendingRead = true }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && pendingRead {
            pendingRead = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

let arguments = CommandLine.arguments
let certificates = try NIOSSLCertificate.fromPEMFile(arguments[1])
let key = try NIOSSLPrivateKey(file: arguments[2], format: .pem)
let threads = arguments.count > 3 ? Int(arguments[3]) ?? System.coreCount : System.coreCount
let tls = try NIOSSLContext(configuration: .makeServerConfiguration(
    certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(key)))
let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
let channel = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.maxMessagesPerRead, value: 16)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
            try channel.pipeline.syncOperations.addHandler(EchoHandler())
        }
    }
    .bind(host: "127.0.0.1", port: 0).wait()
print(channel.localAddress?.port ?? 0)
fflush(nil)  // stdout is a pipe here: the port must not sit in a buffer
try channel.closeFuture.wait()
