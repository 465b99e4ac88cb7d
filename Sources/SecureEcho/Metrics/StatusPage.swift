// GET /: one self-contained page (no external assets) for a person who finds the service:
// what it is, where to connect, how to check the certificate, and live counters read from
// /metrics every few seconds.
import SecureEchoSystem

struct StatusPage {
    let tls: [SocketAddress]
    let plain: [SocketAddress]
    let fingerprint: String?

    var html: String {
        let tlsPort = tls.first.map { String($0.port) }
        let plainPort = plain.first.map { String($0.port) }
        let bound = (tls + plain).first?.host ?? "localhost"
        var commands: [String] = []
        if let tlsPort {
            commands.append("openssl s_client -connect HOST:\(tlsPort) -quiet")
            commands.append("gnutls-cli --no-ca-verification -p \(tlsPort) HOST")
        }
        if let plainPort {
            commands.append("nc HOST \(plainPort)")
            commands.append("telnet HOST \(plainPort)")
        }
        let ports = [tlsPort.map { "<li>TLS echo: port <b id=\"tls-port\">\($0)</b></li>" },
                     plainPort.map { "<li>plain TCP echo: port <b id=\"plain-port\">\($0)</b></li>" }].compactMap { $0 }.joined()
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>secure-echo</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>
            body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
            code,pre{font:14px ui-monospace,monospace}#fingerprint{word-break:break-all}pre{background:#f4f4f4;padding:.6rem;overflow-x:auto}
            table{border-collapse:collapse}td{padding:.2rem 1.2rem .2rem 0}td.n{text-align:right;font-variant-numeric:tabular-nums}
            </style></head><body>
            <h1>secure-echo</h1>
            <p>An echo server for testing TLS and TCP clients: every byte you send comes back unchanged,
            each line as soon as it is complete.</p>
            <ul>\(ports)</ul>
            \(fingerprint.map { "<p>TLS certificate SHA-256 fingerprint:<br><code id=\"fingerprint\">\($0)</code></p>" } ?? "")
            <h2>Try it</h2>
            <pre id="commands">\(commands.map { $0.replacing("HOST", with: bound) }.joined(separator: "\n"))</pre>
            <h2>Now</h2>
            <table id="counters">
            <tr><td>connections accepted (TLS / plain)</td><td class="n" id="accepted">–</td></tr>
            <tr><td>connections open (TLS / plain)</td><td class="n" id="open">–</td></tr>
            <tr><td>TLS handshakes completed / failed</td><td class="n" id="handshakes">–</td></tr>
            <tr><td>bytes echoed</td><td class="n" id="bytes">–</td></tr>
            </table>
            <p><small>Counters from <a href="/metrics">/metrics</a>, refreshed every 3 s.</small></p>
            <script>
            const host = location.hostname || \(jsString(bound));
            document.getElementById("commands").textContent = \(jsString(commands.joined(separator: "\n"))).replaceAll("HOST", host);
            function value(text, name, labels) {
              let sum = 0;
              for (const line of text.split("\\n")) {
                if (!line.startsWith(name) || line.startsWith("#")) continue;
                const rest = line.slice(name.length);
                if (!(rest.startsWith(" ") || rest.startsWith("{"))) continue;
                if (labels && !rest.includes(labels)) continue;
                sum += Number(line.split(" ").pop());
              }
              return sum;
            }
            async function refresh() {
              try {
                const text = await (await fetch("/metrics", {cache: "no-store"})).text();
                const a = "secure_echo_connections_accepted_total", o = "secure_echo_connections_open";
                document.getElementById("accepted").textContent = value(text, a, 'transport="tls"') + " / " + value(text, a, 'transport="plain"');
                document.getElementById("open").textContent = value(text, o, 'transport="tls"') + " / " + value(text, o, 'transport="plain"');
                document.getElementById("handshakes").textContent = value(text, "secure_echo_tls_handshakes_total") + " / " + value(text, "secure_echo_handshake_failures_total");
                document.getElementById("bytes").textContent = (value(text, "secure_echo_sent_bytes_total", 'transport="tls"') + value(text, "secure_echo_sent_bytes_total", 'transport="plain"')).toLocaleString("en");
              } catch (e) {}
            }
            refresh();
            setInterval(refresh, 3000);
            </script>
            </body></html>

            """
    }

    /// A JavaScript string literal.
    private func jsString(_ text: String) -> String {
        "\"" + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
            .replacing("\n", with: "\\n").replacing("<", with: "\\u003c") + "\""
    }
}
