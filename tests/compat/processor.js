#!/usr/bin/env node
/*
 * A registrar and proxy built only from the published @routr/processor package, the way
 * Routr's Connect processor uses it: for EdgePort's compatibility suite (tests/compat).
 *
 *   node processor.js --bind 127.0.0.1:51904 [--routes routes.json]
 *
 * (or the env variables BIND_ADDR and ROUTES_FILE). Prints one line
 * "compat processor listening on HOST:PORT" when the gRPC port accepts connections.
 *
 * - Responses: Alterations.removeTopVia (the EdgePort's own Via), as Connect does.
 * - REGISTER: a digest challenge (401, MD5, qop=auth) unless an Authorization is there;
 *   the digest is checked here against a fixed user table; then Response.sendOk().
 *   The binding is a Routr "Route" built like @routr/location's createRoute: where the
 *   REGISTER really came from (Via received/rport, -1 meaning absent).
 * - New requests to a registered AOR (the To), else to a static route ("trunk") by
 *   Request-URI user, else Response.sendNotFound(). Both go through Connect's "tailor"
 *   pipeline of alterations; a static route's headers (X-Gateway-Auth) are added by
 *   Alterations.applyXHeaders.
 * - In-dialog requests (a To-tag): our own Route removed, sent where the Request-URI
 *   (or the next remaining Route) points, with our Via and Max-Forwards - 1.
 */
"use strict"

const crypto = require("crypto")
const fs = require("fs")
const net = require("net")
const path = require("path")

const routrProcessor = require("@routr/processor")
const Processor = routrProcessor.default
const { Alterations: A, Helper: H, Target: T } = routrProcessor
// @routr/common exactly as @routr/processor resolves it (same copy, so the same enum values:
// HeaderModifierAction is numeric in the @routr/common that @routr/processor@2.1.7 pulls in).
const common = require(
  require.resolve("@routr/common", { paths: [path.dirname(require.resolve("@routr/processor"))] })
)
const CT = common.CommonTypes

const USERS = { alice: "alice-secret", bob: "bob-secret", carol: "carol-secret" }
const MAX_NONCES = 10000

function option(name, envName, fallback) {
  const index = process.argv.indexOf(name)
  if (index !== -1 && index + 1 < process.argv.length) return process.argv[index + 1]
  return process.env[envName] || fallback
}

const bindAddr = option("--bind", "BIND_ADDR", "127.0.0.1:51904")
const routesFile = option("--routes", "ROUTES_FILE", "")
// { user: { host, port, transport, username?, password? } }
const staticRoutes = routesFile ? JSON.parse(fs.readFileSync(routesFile, "utf8")).routes || {} : {}

const pipe = (value, ...fns) => fns.reduce((acc, fn) => fn(acc), value)
const md5 = (text) => crypto.createHash("md5").update(text).digest("hex")
// nc travels as an integer in the protobuf (wire contract section 2): back to 8 hex digits
const ncHex = (n) => (n + 0x100000000).toString(16).slice(-8)

const locations = new Map() // AOR -> Route
const nonces = new Set()

function issueNonce() {
  const nonce = crypto.randomBytes(16).toString("hex")
  nonces.add(nonce)
  if (nonces.size > MAX_NONCES) nonces.delete(nonces.values().next().value)
  return nonce
}

function challenge(realm) {
  return {
    message: {
      responseType: CT.ResponseType.UNAUTHORIZED,
      reasonPhrase: "Unauthorized",
      wwwAuthenticate: {
        scheme: "Digest",
        realm,
        nonce: issueNonce(),
        algorithm: "MD5",
        qop: "auth",
        opaque: "",
        stale: false
      }
    }
  }
}

function digestMatches(auth, method, password) {
  const ha1 = md5(`${auth.username}:${auth.realm}:${password}`)
  const ha2 = md5(`${method}:${auth.uri}`)
  const expected =
    auth.qop === "auth"
      ? md5(`${ha1}:${auth.nonce}:${ncHex(auth.nonceCount)}:${auth.cNonce}:${auth.qop}:${ha2}`)
      : md5(`${ha1}:${auth.nonce}:${ha2}`)
  return expected === auth.response
}

// A Routr Route for the endpoint that sent `req` (like @routr/location's createRoute).
function routeOfSender(req) {
  const via = req.message.via[0]
  return {
    edgePortRef: req.edgePortRef,
    user: req.message.from.address.uri.user,
    host: via.received || via.host,
    port: via.rPort !== -1 ? via.rPort : via.port,
    advertisedHost: via.host,
    advertisedPort: via.port,
    transport: via.transport.toUpperCase(),
    expires: T.getTargetExpires(req),
    listeningPoints: req.listeningPoints,
    localnets: req.localnets,
    externalAddrs: req.externalAddrs
  }
}

function staticRoute(req, user, target) {
  const headers = []
  if (target.username) {
    const value = Buffer.from(`${target.username}:${target.password || ""}`).toString("base64")
    headers.push({ name: CT.ExtraHeader.GATEWAY_AUTH, value, action: CT.HeaderModifierAction.ADD })
  }
  return {
    edgePortRef: req.edgePortRef,
    user,
    host: target.host,
    port: target.port,
    advertisedHost: target.host,
    advertisedPort: target.port,
    transport: (target.transport || "udp").toUpperCase(),
    headers,
    listeningPoints: req.listeningPoints,
    localnets: req.localnets,
    externalAddrs: req.externalAddrs
  }
}

// Connect's tailor(): the alterations applied to every request it routes.
const tailor = (route, req) =>
  pipe(
    req,
    A.decreaseMaxForwards,
    A.removeAuthorization,
    A.removeSelfRoutes,
    A.removeXEdgePortRef,
    A.fixInvalidContact,
    A.addSelfVia(route),
    A.applyXHeaders(route),
    A.addSelfRecordRoute(route),
    A.addRouteToNextHop(route)
  )

function handleRegister(req, res) {
  const realm = req.message.requestUri.host
  const auth = req.message.authorization
  if (!auth || !auth.response) return res.send(challenge(realm))
  const password = USERS[auth.username]
  if (password === undefined) {
    return res.send({ message: { responseType: CT.ResponseType.FORBIDDEN, reasonPhrase: "Forbidden" } })
  }
  const method = req.method.toString()
  if (auth.realm !== realm || !nonces.has(auth.nonce) || !digestMatches(auth, method, password)) {
    return res.send(challenge(realm))
  }
  const aor = T.getTargetAOR(req)
  if (T.getTargetExpires(req) === 0) locations.delete(aor)
  else locations.set(aor, routeOfSender(req))
  const bound = locations.get(aor)
  log(`registered ${aor} -> ${bound ? hostPort(bound) : "(removed)"}`)
  res.sendOk()
}

function handleInDialog(req, res) {
  const unrouted = A.removeSelfRoutes(req)
  const uri = unrouted.message.route.length ? unrouted.message.route[0].address.uri : req.message.requestUri
  const route = {
    edgePortRef: req.edgePortRef,
    host: uri.host,
    port: uri.port,
    transport: (uri.transportParam || "").toUpperCase() || req.message.via[0].transport.toUpperCase(),
    listeningPoints: req.listeningPoints,
    localnets: req.localnets,
    externalAddrs: req.externalAddrs
  }
  res.send(
    pipe(req, A.decreaseMaxForwards, A.removeAuthorization, A.removeSelfRoutes, A.removeXEdgePortRef,
      A.addSelfVia(route))
  )
}

function handleRequest(req, res) {
  const aor = T.getTargetAOR(req)
  const user = req.message.requestUri.user
  let route = locations.get(aor)
  if (!route && staticRoutes[user]) route = staticRoute(req, user, staticRoutes[user])
  if (!route) return res.sendNotFound()
  res.send(tailor(route, req))
}

const hostPort = (route) => `${route.host}:${route.port};${route.transport}`

function log(text) {
  if (process.env.COMPAT_PROCESSOR_QUIET !== "true") console.log(`[compat processor] ${text}`)
}

new Processor({ bindAddr, name: "compat" }).listen((req, res) => {
  try {
    if (H.isTypeResponse(req)) {
      return res.send(A.removeTopVia(req)) // our own Via goes
    }
    const method = req.method.toString()
    log(`${method} ${req.ref} to-tag=${req.message.to.tag || "-"}`)
    if (method === "REGISTER") return handleRegister(req, res)
    if (req.message.to.tag) return handleInDialog(req, res)
    return handleRequest(req, res)
  } catch (err) {
    console.error(`[compat processor] ${err && err.stack ? err.stack : err}`)
    res.sendInternalServerError()
  }
})

// The published Processor has no "listening" callback: poll the port, then say we are ready.
const [host, port] = [bindAddr.slice(0, bindAddr.lastIndexOf(":")), Number(bindAddr.split(":").pop())]
function announceWhenListening(attempt) {
  const socket = net.connect({ host, port }, () => {
    socket.destroy()
    console.log(`compat processor listening on ${host}:${port}`)
  })
  socket.on("error", () => {
    socket.destroy()
    if (attempt > 200) {
      console.error(`compat processor: nothing listens on ${bindAddr}`)
      process.exit(1)
    }
    setTimeout(() => announceWhenListening(attempt + 1), 50)
  })
}
announceWhenListening(0)
