/**
 * `GET /admin`: how the platform is doing at a glance. Callbacks by status
 * now; created, completed and failed with the success rate over the last
 * hour, day and week; completions and failures per hour for the last day as
 * a small chart; beside them, the wait from verification to the first call
 * (median and 90th percentile) over the same windows, and its median per hour
 * for the last day as a chart (infra/console/ConsoleStats.ts); dead letters
 * waiting (failed requests, discarded jobs); each queue's depth and oldest
 * wait; the account's text and call budgets used; the live processes;
 * Twilio's circuits as this process sees them. Every number is in a live region.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { CallbackStatuses } from "../../../domain/callbacks/CallbackState.ts"
import { bucketsFor, usage } from "../../../infra/callbacks/Budgets.ts"
import { CallbackConfig } from "../../../infra/callbacks/CallbackConfig.ts"
import { HistoryStore } from "../../../infra/callbacks/HistoryStore.ts"
import { dialLatency, hourlyDialLatency, type HourlyDialLatency } from "../../../infra/console/ConsoleStats.ts"
import { ProcessRegistry } from "../../../infra/jobs/ProcessRegistry.ts"
import { Telephony } from "../../../infra/twilio/Telephony.ts"
import * as Requests from "../../callbacks/Requests.ts"
import type { EngineAdmin } from "../../jobs/EngineAdmin.ts"
import { href, Layout, Status, Table } from "../Components.tsx"
import { type ConsoleRoutes, page } from "../ConsoleRouter.tsx"
import { QueueTable } from "./Engine.tsx"

const WINDOWS = [
  ["last hour", 1],
  ["last 24 hours", 24],
  ["last 7 days", 168]
] as const

/** `850 ms`, `4.2 s`, `42 s`, `12 min`, `3.5 h`: a wait at a glance; `—` for none. */
const wait = (seconds: number | null): string => {
  if (seconds === null) return "—"
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`
  if (seconds < 120) return `${Math.round(seconds)} s`
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`
  return `${Math.round(seconds / 360) / 10} h`
}

const percent = (completed: number, failed: number): string => (completed + failed === 0 ? "—" : `${Math.round((completed / (completed + failed)) * 1000) / 10} %`)

/** Completed (blue) and failed (red) per hour, as bars; with a text table for screen readers. */
const HourlyChart = ({ hours }: { hours: ReadonlyArray<{ hour: Date; completed: number; failed: number }> }) => {
  const width = 24 * 14
  const height = 80
  const max = Math.max(1, ...hours.map((h) => h.completed + h.failed))
  return (
    <figure>
      <svg class="chart" viewBox={`0 0 ${width} ${height + 2}`} role="img" aria-labelledby="hourly-title">
        <title id="hourly-title">Callbacks completed and failed per hour, last 24 hours</title>
        <line class="axis" x1="0" y1={height + 1} x2={width} y2={height + 1} />
        {hours.map((h, i) => {
          const done = (h.completed / max) * height
          const bad = (h.failed / max) * height
          return (
            <g>
              <rect class="bar" x={i * 14 + 2} y={height - done} width="10" height={done} />
              <rect class="bar bad" x={i * 14 + 2} y={height - done - bad} width="10" height={bad} />
            </g>
          )
        })}
      </svg>
      <figcaption class="hint">Per hour, oldest on the left: completed (blue) and failed (red). Peak {max} in an hour.</figcaption>
    </figure>
  )
}

/** The median wait to the first call per hour, as bars (hours without a first call have none); its title and caption say it in words. */
const LatencyChart = ({ hours }: { hours: ReadonlyArray<HourlyDialLatency> }) => {
  const width = 24 * 14
  const height = 80
  const slowest = hours.reduce<{ p50: number; hour: number } | undefined>((top, h, i) => (h.p50Seconds !== null && (top === undefined || h.p50Seconds > top.p50) ? { p50: h.p50Seconds, hour: i } : top), undefined)
  const max = Math.max(slowest?.p50 ?? 0, 0.001)
  const dialed = hours.reduce((sum, h) => sum + h.dialed, 0)
  const summary =
    slowest === undefined
      ? "No first calls in the last 24 hours."
      : `${dialed} first call${dialed === 1 ? "" : "s"}; the slowest hour's median was ${wait(slowest.p50)}, ${23 - slowest.hour === 0 ? "this hour" : `${23 - slowest.hour} h ago`}.`
  return (
    <figure>
      <svg class="chart" viewBox={`0 0 ${width} ${height + 2}`} role="img" aria-labelledby="latency-title">
        <title id="latency-title">{`Median wait from verification to the first call, per hour, last 24 hours. ${summary}`}</title>
        <line class="axis" x1="0" y1={height + 1} x2={width} y2={height + 1} />
        {hours.map((h, i) => {
          if (h.p50Seconds === null) return null
          // a bar of at least 2 units, so an hour of instant calls still shows it had calls
          const tall = Math.max(2, (h.p50Seconds / max) * height)
          return <rect class="bar wait" x={i * 14 + 2} y={height - tall} width="10" height={tall} />
        })}
      </svg>
      <figcaption class="hint">Median wait per hour, oldest on the left, scaled to the slowest hour. {summary}</figcaption>
    </figure>
  )
}

export const overviewPage = (routes: ConsoleRoutes, engine: EngineAdmin) =>
  page(routes, "/admin", undefined, ({ page: context }) =>
    Effect.gen(function* () {
      const history = yield* HistoryStore
      const telephony = yield* Telephony
      const { budgets } = yield* CallbackConfig
      const accountBuckets = (["sms", "call"] as const).flatMap((channel) => bucketsFor(budgets, channel, "").filter((b) => b.scope === "account").map((bucket) => ({ channel, bucket })))
      const [stats, windows, hourly, latency, hourlyLatency, queues, processes, voice, sms, spent] = yield* Effect.all(
        [
          Requests.stats,
          Effect.forEach(WINDOWS, ([, hours]) => history.countRecent(["callback.created", "callback.completed", "callback.failed"], hours)),
          history.hourly(["callback.completed", "callback.failed"], 24),
          dialLatency(WINDOWS.map(([, hours]) => hours)),
          hourlyDialLatency(24),
          engine.queues,
          Effect.flatMap(ProcessRegistry, (registry) => registry.list),
          telephony.circuit("voice"),
          telephony.circuit("sms"),
          usage(accountBuckets.map((b) => b.bucket))
        ],
        { concurrency: 3 }
      )
      const now = Date.now()
      const hours = Array.from({ length: 24 }, (_, i) => {
        const hour = new Date(Math.floor(now / 3_600_000) * 3_600_000 - (23 - i) * 3_600_000)
        const at = (type: string) => hourly.find((row) => row.type === type && row.hour.getTime() === hour.getTime())?.n ?? 0
        return { hour, completed: at("callback.completed"), failed: at("callback.failed") }
      })
      const discarded = queues.reduce((sum, q) => sum + q.discarded, 0)
      return (
        <Layout title="Overview" page={context}>
          <section id="overview-now" data-live aria-labelledby="now-heading">
            <h2 id="now-heading">Callbacks now</h2>
            <ul class="cards">
              {CallbackStatuses.map((status) => (
                <li>
                  <a href={href("/admin/callbacks", { status })}>
                    <span class="value">{stats.callbacks[status]}</span>
                  </a>
                  <span class="label">
                    <Status value={status} />
                  </span>
                </li>
              ))}
            </ul>
            <h2>Dead letters waiting</h2>
            <ul class="cards">
              <li>
                <a href={href("/admin/callbacks", { status: "failed" })}>
                  <span class="value" id="dead-callbacks">
                    {stats.callbacks.failed}
                  </span>
                </a>
                <span class="label">failed callback requests</span>
              </li>
              <li>
                <a href={href("/admin/jobs", { state: "discarded" })}>
                  <span class="value" id="dead-jobs">
                    {discarded}
                  </span>
                </a>
                <span class="label">discarded jobs</span>
              </li>
            </ul>
          </section>
          <section id="overview-rates" data-live aria-labelledby="rates-heading">
            <h2 id="rates-heading">Outcomes</h2>
            <div class="pair">
              <div>
                <h3>Created and finished</h3>
                <Table caption="Callbacks created and finished by window" headers={["window", "created", "completed", "failed", "success rate"]} empty={false}>
                  {WINDOWS.map(([label], i) => {
                    const counts = windows[i] ?? new Map()
                    const completed = counts.get("callback.completed") ?? 0
                    const failed = counts.get("callback.failed") ?? 0
                    return (
                      <tr>
                        <th scope="row">{label}</th>
                        <td class="num">{counts.get("callback.created") ?? 0}</td>
                        <td class="num">{completed}</td>
                        <td class="num">{failed}</td>
                        <td class="num">{percent(completed, failed)}</td>
                      </tr>
                    )
                  })}
                </Table>
                <HourlyChart hours={hours} />
              </div>
              <div>
                <h3>Verification to first call</h3>
                <Table caption="Wait from verification to the first call by window" headers={["window", "first calls", "median (p50)", "p90"]} empty={false} id="dial-latency">
                  {WINDOWS.map(([label], i) => {
                    const row = latency[i]
                    return (
                      <tr>
                        <th scope="row">{label}</th>
                        <td class="num">{row?.dialed ?? 0}</td>
                        <td class="num">{wait(row?.p50Seconds ?? null)}</td>
                        <td class="num">{wait(row?.p90Seconds ?? null)}</td>
                      </tr>
                    )
                  })}
                </Table>
                <LatencyChart hours={hourlyLatency} />
                <p class="hint">
                  From when a request was verified (for one verified while its business was closed, from its opening) to the start of its first call. A request still
                  waiting counts once it is called.
                </p>
              </div>
            </div>
          </section>
          <section id="overview-queues" data-live aria-labelledby="queues-heading">
            <h2 id="queues-heading">Queues</h2>
            <QueueTable queues={queues} />
            <h2>Account budgets</h2>
            <Table caption="Texts and calls counted against the account's budgets" headers={["channel", "window", "used", "limit", "share"]} empty={accountBuckets.length === 0} id="budgets">
              {spent.map(({ bucket, used }, i) => (
                <tr>
                  <th scope="row">{accountBuckets[i]?.channel === "sms" ? "texts" : "calls"}</th>
                  <td>{Duration.format(bucket.limit.window)}</td>
                  <td class="num">{used}</td>
                  <td class="num">{bucket.limit.limit}</td>
                  <td class="num">
                    {`${Math.round((used / bucket.limit.limit) * 100)} %`} {used >= bucket.limit.limit ? <Status value="exhausted" /> : null}
                  </td>
                </tr>
              ))}
            </Table>
            <h2>Processes and Twilio</h2>
            <p>
              <a href="/admin/workers">{`${processes.length} live process${processes.length === 1 ? "" : "es"}`}</a>
              {"; this process's Twilio circuits: voice "}
              <Status value={voice === "closed" ? "ok" : voice} />
              {", sms "}
              <Status value={sms === "closed" ? "ok" : sms} />
            </p>
          </section>
        </Layout>
      )
    })
  )
