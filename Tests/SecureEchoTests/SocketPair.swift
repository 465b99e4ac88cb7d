import Glibc
@testable import SecureEcho
@testable import SecureEchoLoop
@testable import SecureEchoSystem
@testable import SecureEchoTLS

/// Two connected, non-blocking Unix stream sockets: a real descriptor pair the pollers and
/// transports can work on without the network.
func makeSocketPair() -> (Socket, Socket) {
    var fds: [CInt] = [-1, -1]
    let rc = socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue), 0, &fds)
    precondition(rc == 0, "socketpair failed")
    return (Socket(takingOwnershipOf: fds[0]), Socket(takingOwnershipOf: fds[1]))
}
