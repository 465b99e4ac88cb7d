// A Python client that fingerprints its own ClientHello, independently of secure-echo's code:
// ssl.MemoryBIO hands it the exact bytes it is about to send, it computes JA3 and JA4 from
// them with its own small parser, sends them (in one record, or re-cut into two), finishes
// the handshake and prints the server's report after its own figures.

/// argv: PORT one|split ALPN(comma list, or none). Prints `independent_KEY: VALUE` lines,
/// then a line `---`, then what the server sent.
let independentFingerprintScript = #"""
import hashlib, socket, ssl, sys

port, split, alpn = int(sys.argv[1]), sys.argv[2] == "split", sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if alpn != "none":
    ctx.set_alpn_protocols(alpn.split(","))
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
records = outgoing.read()

message, i = b"", 0
while i < len(records):
    length = int.from_bytes(records[i + 3:i + 5], "big")
    message += records[i + 5:i + 5 + length]
    i += 5 + length

def grease(v): return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)
def u16s(b): return [int.from_bytes(b[j:j + 2], "big") for j in range(0, len(b), 2)]

body = message[4:]
legacy = int.from_bytes(body[0:2], "big")
p = 2 + 32
p += 1 + body[p]
n = int.from_bytes(body[p:p + 2], "big"); ciphers = u16s(body[p + 2:p + 2 + n]); p += 2 + n
p += 1 + body[p]
end = p + 2 + int.from_bytes(body[p:p + 2], "big"); p += 2
exts, groups, formats, sigalgs, versions, alpns = [], [], [], [], [], []
while p < end:
    t, n = int.from_bytes(body[p:p + 2], "big"), int.from_bytes(body[p + 2:p + 4], "big")
    d = body[p + 4:p + 4 + n]; p += 4 + n
    exts.append(t)
    if t == 10: groups = u16s(d[2:])
    elif t == 11: formats = list(d[1:])
    elif t == 13: sigalgs = u16s(d[2:])
    elif t == 43: versions = u16s(d[1:])
    elif t == 16:
        q = 2
        while q < len(d): alpns.append(d[q + 1:q + 1 + d[q]]); q += 1 + d[q]

def dec(vs): return "-".join(str(v) for v in vs if not grease(v))
ja3 = ",".join([str(legacy), dec(ciphers), dec(exts), dec(groups), "-".join(str(f) for f in formats)])
top = max([v for v in versions if not grease(v)] or [legacy])
ver = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}.get(top, "00")
cs = [c for c in ciphers if not grease(c)]
es = [e for e in exts if not grease(e)]
if not alpns or not alpns[0]: a = "00"
elif chr(alpns[0][0]).isalnum() and chr(alpns[0][-1]).isalnum() and alpns[0][0] < 128 and alpns[0][-1] < 128:
    a = chr(alpns[0][0]) + chr(alpns[0][-1])
else:
    h = alpns[0].hex(); a = h[0] + h[-1]
prefix = "t%s%s%02d%02d%s" % (ver, "d" if 0 in es else "i", min(len(cs), 99), min(len(es), 99), a)
raw_c = ",".join("%04x" % c for c in sorted(cs))
raw_e = ",".join("%04x" % e for e in sorted(es) if e not in (0, 16))
sa = [s for s in sigalgs if not grease(s)]
if sa: raw_e += "_" + ",".join("%04x" % s for s in sa)
def h12(s): return hashlib.sha256(s.encode()).hexdigest()[:12] if s else "000000000000"

def record(payload): return b"\x16\x03\x01" + len(payload).to_bytes(2, "big") + payload
if split:
    cut = len(message) // 2
    records = record(message[:cut]) + record(message[cut:])

print("independent_ja3: " + ja3)
print("independent_ja3_hash: " + hashlib.md5(ja3.encode()).hexdigest())
print("independent_ja4: %s_%s_%s" % (prefix, h12(raw_c), h12(raw_e)))
print("independent_ja4_r: %s_%s_%s" % (prefix, raw_c, raw_e))
print("independent_records: %d" % (2 if split else 1))
print("---", flush=True)

sock = socket.create_connection(("127.0.0.1", port))
sock.sendall(records)
def pump():
    data = outgoing.read()
    if data: sock.sendall(data)
while True:
    try:
        tls.do_handshake(); pump(); break
    except ssl.SSLWantReadError:
        pump()
        chunk = sock.recv(65536)
        if not chunk: sys.exit("server closed during the handshake")
        incoming.write(chunk)
if tls.selected_alpn_protocol() == "http/1.1":
    tls.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"); pump()
reply = b""
while True:
    try:
        chunk = tls.read(65536)
        if not chunk: break  # close_notify
        reply += chunk
    except ssl.SSLWantReadError:
        chunk = sock.recv(65536)
        if not chunk: break
        incoming.write(chunk)
    except ssl.SSLZeroReturnError:
        break
sock.close()
sys.stdout.write(reply.decode("utf-8", "replace"))
"""#
