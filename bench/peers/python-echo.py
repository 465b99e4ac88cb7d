"""TLS echo server for the benchmark, Python asyncio: python3 python-echo.py CERT KEY [--uvloop]
Prints the OS-chosen port on stdout, then echoes every byte of every connection."""
import asyncio, ssl, sys

async def echo(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()          # backpressure: stop reading while the peer does not read
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()

async def main(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=context, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()

if __name__ == "__main__":
    if "--uvloop" in sys.argv:
        import uvloop
        uvloop.install()
    asyncio.run(main(sys.argv[1], sys.argv[2]))
