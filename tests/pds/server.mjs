// A real Bluesky PDS (@atproto/pds) and a local PLC directory (@did-plc/server, in-memory), in one
// process, bound to 127.0.0.1 only, for crosspost's tests. Nothing here reaches the internet: no
// AppView, no crawlers, no mail, no moderation service, and did:plc goes to the local directory.
//
//   node server.mjs --pds-port N --plc-port M --data-dir DIR [--admin-password P]
//
// Prints one JSON line {"ready": true, "pds": URL, "plc": URL} on stdout once both listen. Stops on
// SIGTERM/SIGINT and when its stdin closes (so it dies with the test process that spawned it).
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import process from 'node:process'
import { parseArgs } from 'node:util'

const HOST = '127.0.0.1'

const { values: args } = parseArgs({
  options: {
    'pds-port': { type: 'string' },
    'plc-port': { type: 'string' },
    'data-dir': { type: 'string' },
    'admin-password': { type: 'string' },
  },
})
for (const name of ['pds-port', 'plc-port', 'data-dir']) {
  if (!args[name]) {
    console.error(`server.mjs: --${name} is required`)
    process.exit(2)
  }
}
const pdsPort = Number(args['pds-port'])
const plcPort = Number(args['plc-port'])
const dataDir = path.resolve(args['data-dir'])
fs.mkdirSync(path.join(dataDir, 'blobs'), { recursive: true })

// express's app.listen(port) binds every interface; make it bind the loopback address only.
function bindLoopback(app) {
  const listen = app.listen.bind(app)
  app.listen = (port, ...rest) => listen(port, HOST, ...rest.filter((a) => typeof a === 'function'))
  return app
}

// The PDS reads its configuration from process.env (readEnv). Drop whatever PDS_* the caller's
// environment carries, so that a stray PDS_BSKY_APP_VIEW_URL or PDS_CRAWLERS can never point it
// at the internet, and set exactly what a closed local test server needs.
for (const key of Object.keys(process.env)) {
  if (key.startsWith('PDS_')) delete process.env[key]
}
Object.assign(process.env, {
  PDS_HOSTNAME: 'localhost',
  PDS_PORT: String(pdsPort),
  PDS_DEV_MODE: 'true',
  PDS_INVITE_REQUIRED: 'false',
  PDS_SERVICE_HANDLE_DOMAINS: '.test',
  PDS_RATE_LIMITS_ENABLED: 'false',
  PDS_JWT_SECRET: crypto.randomBytes(32).toString('hex'),
  PDS_ADMIN_PASSWORD: args['admin-password'] || crypto.randomBytes(16).toString('hex'),
  PDS_DATA_DIRECTORY: dataDir,
  PDS_BLOBSTORE_DISK_LOCATION: path.join(dataDir, 'blobs'),
  PDS_DID_PLC_URL: `http://${HOST}:${plcPort}`,
  // Left unset on purpose (each defaults to "off"): PDS_BSKY_APP_VIEW_URL/_DID, PDS_MOD_SERVICE_URL,
  // PDS_REPORT_SERVICE_URL, PDS_CRAWLERS, PDS_EMAIL_SMTP_URL, PDS_ENTRYWAY_URL, PDS_REDIS_SCRATCH_ADDRESS.
})

// Imported after the environment is set: @atproto/common reads LOG_* when it loads.
const { default: plcServer } = await import('@did-plc/server')
const { default: pdsPkg } = await import('@atproto/pds')

// A fresh k256 rotation key for this run (the PDS signs the accounts' PLC operations with it).
const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
process.env.PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX = Buffer.from(
  privateKey.export({ format: 'jwk' }).d,
  'base64url',
).toString('hex').padStart(64, '0')

// PLC directory with its in-memory database (no PostgreSQL).
const plc = plcServer.PlcServer.create({ db: plcServer.Database.mock(), port: plcPort })
bindLoopback(plc.app)
await plc.start()

const env = pdsPkg.readEnv()
const pds = await pdsPkg.PDS.create(pdsPkg.envToCfg(env), pdsPkg.envToSecrets(env))
// resolveHandle answers this PDS's own accounts (and "Unable to resolve handle" for other .test ones);
// any other handle it would resolve over DNS and HTTPS, i.e. the internet: here it resolves to no one.
pds.ctx.idResolver.handle.resolve = async () => undefined
bindLoopback(pds.app)
await pds.start()

process.stdout.write(
  JSON.stringify({ ready: true, pds: `http://${HOST}:${pdsPort}`, plc: `http://${HOST}:${plcPort}` }) + '\n',
)

let stopping = false
async function stop(reason) {
  if (stopping) return
  stopping = true
  console.error(`server.mjs: stopping (${reason})`)
  const force = setTimeout(() => process.exit(0), 5000)
  force.unref()
  try {
    await pds.destroy()
    await plc.destroy()
  } catch (err) {
    console.error('server.mjs: error while stopping', err)
  }
  process.exit(0)
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
process.stdin.on('end', () => stop('stdin closed'))
process.stdin.on('error', () => stop('stdin error'))
process.stdin.resume()
