/**
 * Supervision as Kubernetes sees it, over real HTTP: an actor that dies with a
 * defect is restarted and counted while /livez stays 200; an actor that blocks
 * without a heartbeat turns /livez 503 within ACTOR_STALL_TIMEOUT.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { beat, sleep, spawnActor } from "../../../supervisors/Actor.ts"
import { type RunningApp, startApp } from "../../support/app.ts"
import { cloneDatabase, eventually } from "../../support/database.ts"

const STALL_MS = 1_500

describe("supervised actors and /livez", () => {
  let app: RunningApp
  beforeAll(async () => {
    app = await startApp({ databaseUrl: await cloneDatabase(), env: { ACTOR_STALL_TIMEOUT: `${STALL_MS}ms` } })
  })
  afterAll(() => app.dispose())

  const livez = async () => {
    const response = await app.request("/livez")
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  }
  const restartsOf = async (actor: string) => {
    const text = await (await app.request("/metrics")).text()
    const match = new RegExp(`^switchboard_actor_restarts_total\\{actor="${actor}"\\} (\\d+)$`, "m").exec(text)
    return match === null ? undefined : Number(match[1])
  }

  it("restarts an actor that dies with a defect, counts it, and stays live", async () => {
    let runs = 0
    const flaky = Effect.suspend(() => {
      runs++
      return runs <= 3 ? Effect.dieMessage(`defect number ${runs}`) : Effect.forever(Effect.zipRight(beat, sleep("100 millis")))
    })
    const fiber = app.runtime.runFork(Effect.scoped(Effect.zipRight(spawnActor("flaky", flaky), Effect.never)))
    const statuses: Array<number> = []
    await eventually(async () => {
      statuses.push((await livez()).status)
      return runs >= 4 ? true : undefined
    }, 20_000, "the flaky actor's fourth run")
    expect(statuses.every((s) => s === 200)).toBe(true)
    expect(await restartsOf("flaky")).toBe(3)
    expect((await livez()).status).toBe(200)
    await app.runtime.runPromise(Fiber.interrupt(fiber))
  })

  it("turns /livez 503 when an actor blocks without a heartbeat, and 200 once it is gone", async () => {
    expect((await livez()).status).toBe(200)
    const fiber = app.runtime.runFork(Effect.scoped(Effect.zipRight(spawnActor("stuck", Effect.zipRight(beat, Effect.never)), Effect.never)))
    const started = Date.now()
    const failing = await eventually(async () => {
      const answer = await livez()
      return answer.status === 503 ? answer : undefined
    }, STALL_MS * 4, "/livez to fail")
    const elapsed = Date.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(STALL_MS - 100) // not before the stall timeout
    expect(String(failing.body.detail)).toContain("stuck")
    expect(failing.body.type).toBe("/problems/unavailable")
    const age = /^switchboard_actor_heartbeat_age_seconds\{actor="stuck"\} ([\d.]+)$/m.exec(await (await app.request("/metrics")).text())
    expect(Number(age?.[1])).toBeGreaterThan(STALL_MS / 1000)
    await app.runtime.runPromise(Fiber.interrupt(fiber))
    expect((await livez()).status).toBe(200)
  })
})
