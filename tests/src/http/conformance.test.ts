/**
 * The response checker the HTTP suites run on every response
 * (tests/support/conformance.ts): it must report drift from the OpenAPI
 * document (a missing required field, an undeclared status, a wrong content
 * type, a path the document does not name) and pass what the document allows.
 */
import { describe, expect, it } from "vitest"
import { createSwitchboardClient } from "../../../clients/switchboard/index.ts"
import { assertConforms, checkResponses, ConformanceError, conformance } from "../../support/conformance.ts"

const id = "0b6c3f53-53c4-4b53-9a8e-1f1c0c5a2e11"
const now = "2026-12-04T10:00:00.000Z"
const callback = {
  id,
  businessId: "7d1f9e3c-2a4b-4c6d-8e0f-1a2b3c4d5e6f",
  status: "dialing",
  priority: "normal",
  escalationLevel: 0,
  attempts: [{ n: 1, to: "+14155550100", status: "ringing", level: 0, startedAt: now }],
  createdAt: now,
  updatedAt: now
}
const json = "application/json"
const problemJson = "application/problem+json"
const notFound = { type: "/problems/not-found", title: "Not found", status: 404, detail: "no such callback", requestId: "r-1" }

const check = (method: string, path: string, status: number, contentType: string | null, body: unknown) =>
  conformance().checkResponse(method, path, status, contentType, typeof body === "string" ? body : JSON.stringify(body))

describe("response conformance", () => {
  it("passes responses the document allows: a view, a declared problem, an unknown route's not-found, an empty 204, text", () => {
    expect(check("GET", `/v1/callbacks/${id}`, 200, "application/json; charset=UTF-8", callback)).toEqual([])
    expect(check("GET", `/v1/callbacks/${id}?ignored=1`, 404, problemJson, notFound)).toEqual([])
    // a problem's extension members (RFC 9457): the active request a 409 names
    expect(check("POST", "/v1/callbacks", 409, problemJson, { type: "/problems/conflict", title: "Conflict", status: 409, id })).toEqual([])
    expect(check("GET", "/nowhere", 404, problemJson, { ...notFound, detail: "no route for GET /nowhere" })).toEqual([])
    expect(check("DELETE", "/v1/callbacks", 404, problemJson, notFound)).toEqual([]) // a known path, an unknown method
    expect(check("POST", "/twilio/status/sms/SM123", 204, null, "")).toEqual([])
    expect(check("GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8", "# HELP x\n")).toEqual([])
  })

  it("reports a missing required field and a wrong type, naming where", () => {
    const { attempts: _, ...withoutAttempts } = callback
    const missing = check("GET", `/v1/callbacks/${id}`, 200, json, withoutAttempts)
    expect(missing).toHaveLength(1)
    expect(missing[0]).toMatch(/must have required property 'attempts'/)
    const wrong = check("GET", `/v1/callbacks/${id}`, 200, json, { ...callback, escalationLevel: "zero", status: "on hold" })
    expect(wrong.join("\n")).toMatch(/\/escalationLevel must be/)
    expect(wrong.join("\n")).toMatch(/\/status must be equal to one of the allowed values/)
    expect(check("GET", `/v1/callbacks/${id}`, 200, json, "{ not json")).toEqual([expect.stringMatching(/not JSON/)])
  })

  it("reports a member the schema does not have (the document is closed)", () => {
    expect(check("GET", `/v1/callbacks/${id}`, 200, json, { ...callback, phone: "+14155550100" })).toEqual([expect.stringMatching(/additional properties.*phone/)])
  })

  it("reports an undeclared status", () => {
    expect(check("GET", `/v1/callbacks/${id}`, 500, problemJson, { ...notFound, status: 500 })).toEqual([
      expect.stringMatching(/status 500 is not declared for GET \/v1\/callbacks\/\{id\} \(it declares 200, 401, 403, 404/)
    ])
    expect(check("POST", `/v1/callbacks/${id}/verification`, 201, json, callback)).toEqual([expect.stringMatching(/status 201 is not declared/)])
  })

  it("reports a wrong content type, a missing one, and a body where none is declared", () => {
    expect(check("GET", `/v1/callbacks/${id}`, 200, "text/html", "<p>hi</p>")).toEqual([expect.stringMatching(/content type text\/html is not declared .*application\/json/)])
    expect(check("GET", `/v1/callbacks/${id}`, 404, json, notFound)).toEqual([expect.stringMatching(/content type application\/json is not declared for 404/)])
    expect(check("GET", "/metrics", 200, "text/plain", "# HELP x\n")).toEqual([expect.stringMatching(/content type text\/plain is not declared/)])
    expect(check("GET", `/v1/callbacks/${id}`, 200, null, "")).toEqual([expect.stringMatching(/has no content type/)])
    expect(check("POST", "/twilio/status/sms/SM123", 204, json, "{}")).toEqual([expect.stringMatching(/declares no body/)])
  })

  it("reports what the document does not name, unless the app answered it with a valid problem", () => {
    expect(check("GET", "/v2/callbacks", 200, json, { ok: true })).toEqual([expect.stringMatching(/GET \/v2\/callbacks is not in the document \(answered 200/)])
    expect(check("GET", "/nowhere", 404, problemJson, { type: "/problems/not-found", status: "404" })).toEqual([
      expect.stringMatching(/not in the document, and its problem document does not conform: the body must have required property 'title'/),
      expect.stringMatching(/\/status must be integer/)
    ])
  })

  it("a worker is checked against the operations it serves: its 404 for the admin API is an unknown route, a 200 there is drift", () => {
    const queues = (role: "all" | "worker", status: number, contentType: string, body: unknown) =>
      conformance(role).checkResponse("GET", "/admin/api/queues", status, contentType, JSON.stringify(body))
    expect(queues("all", 404, problemJson, notFound)).toEqual([expect.stringMatching(/status 404 is not declared for GET \/admin\/api\/queues/)])
    expect(queues("worker", 404, problemJson, notFound)).toEqual([])
    expect(queues("worker", 200, json, [])).toEqual([expect.stringMatching(/GET \/admin\/api\/queues is not in the document/)])
    expect(conformance("worker").checkResponse("GET", "/livez", 200, json, JSON.stringify({ status: "ok" }))).toEqual([])
  })

  it("the helpers throw a ConformanceError naming the method, path, status and mismatch; the caller keeps the body", async () => {
    const drifted = new Response(JSON.stringify({ ...callback, attempts: undefined }), { status: 200, headers: { "content-type": json } })
    const error = await assertConforms("GET", `http://127.0.0.1:1/v1/callbacks/${id}`, drifted).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConformanceError)
    expect((error as Error).message).toMatch(new RegExp(`^GET /v1/callbacks/${id} -> 200 application/json does not conform[^]*required property 'attempts'`))
    const fine = new Response(JSON.stringify(callback), { status: 200, headers: { "content-type": json } })
    await assertConforms("GET", `/v1/callbacks/${id}`, fine)
    expect(await fine.json()).toEqual(callback)

    // the typed client with the middleware: the drifted answer rejects the call, a conforming one comes back typed
    const serve = (body: unknown) => async () => new Response(JSON.stringify(body), { status: 200, headers: { "content-type": json } })
    const drifting = createSwitchboardClient({ baseUrl: "http://app.invalid", fetch: serve({ ...callback, priority: "urgent" }) })
    drifting.use(checkResponses())
    await expect(drifting.GET("/v1/callbacks/{id}", { params: { path: { id } } })).rejects.toThrow(/\/priority must be equal to one of the allowed values/)
    const conforming = createSwitchboardClient({ baseUrl: "http://app.invalid", fetch: serve(callback) })
    conforming.use(checkResponses())
    expect((await conforming.GET("/v1/callbacks/{id}", { params: { path: { id } } })).data?.attempts[0]?.to).toBe("+14155550100")
  })
})
