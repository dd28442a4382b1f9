// Test-only PostgreSQL server: PGlite (PostgreSQL in WebAssembly) with pgvector >= 0.8 on 127.0.0.1:PORT.
// Usage: node server.mjs PORT  -> prints "listening PORT" once clients may connect; stops on SIGTERM.
// One in-memory database, nothing written to disk; pglite-socket multiplexes client connections onto it.
import { PGlite } from '@electric-sql/pglite'
import { vector } from '@electric-sql/pglite-pgvector'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const port = Number.parseInt(process.argv[2] ?? '', 10)
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs PORT')
  process.exit(2)
}
const db = await PGlite.create({ extensions: { vector } })
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' })
await server.start()
console.log(`listening ${port}`)
const stop = async () => {
  await server.stop()
  await db.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
