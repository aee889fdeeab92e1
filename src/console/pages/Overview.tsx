/**
 * `GET /admin`: how the platform is doing at a glance. Callbacks by status
 * now; created, completed and failed with the success rate over the last
 * hour, day and week; completions and failures per hour for the last day as
 * a small chart; dead letters waiting (failed requests, discarded jobs); each
 * queue's depth and oldest wait; the account's text and call budgets used;
 * the live processes; Twilio's circuits as this process sees them. Every number is in a live region.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { CallbackStatuses } from "../../../domain/callbacks/CallbackState.ts"
import { bucketsFor, usage } from "../../../infra/callbacks/Budgets.ts"
import { CallbackConfig } from "../../../infra/callbacks/CallbackConfig.ts"
import { HistoryStore } from "../../../infra/callbacks/HistoryStore.ts"
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

export const overviewPage = (routes: ConsoleRoutes, engine: EngineAdmin) =>
  page(routes, "/admin", undefined, ({ page: context }) =>
    Effect.gen(function* () {
      const history = yield* HistoryStore
      const telephony = yield* Telephony
      const { budgets } = yield* CallbackConfig
      const accountBuckets = (["sms", "call"] as const).flatMap((channel) => bucketsFor(budgets, channel, "").filter((b) => b.scope === "account").map((bucket) => ({ channel, bucket })))
      const [stats, windows, hourly, queues, processes, voice, sms, spent] = yield* Effect.all(
        [
          Requests.stats,
          Effect.forEach(WINDOWS, ([, hours]) => history.countRecent(["callback.created", "callback.completed", "callback.failed"], hours)),
          history.hourly(["callback.completed", "callback.failed"], 24),
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
