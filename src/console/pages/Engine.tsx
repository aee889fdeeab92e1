/**
 * The job engine's controls: `GET /admin/queues` (depth, oldest wait,
 * capacity in all and per process, jobs finished per minute over the last
 * hour as a sparkline, pause and resume), `GET /admin/crons` (each
 * schedule's next and last run, run now, enable and disable) and
 * `GET /admin/workers` (the live processes, their heartbeat age and runners
 * busy per queue, drain). Each control is the admin API's operation
 * (src/jobs/EngineAdmin.ts), done as the signed-in operator.
 */
import * as Effect from "effect/Effect"
import { disableCron, drainProcess, enableCron, pauseQueue, resumeQueue, runCron } from "../../http/contract/Jobs.ts"
import type { EngineAdmin, QueueThroughput } from "../../jobs/EngineAdmin.ts"
import { Action, href, Layout, type PageContext, Status, Table, Time } from "../Components.tsx"
import { action, type ConsoleRoutes, page } from "../ConsoleRouter.tsx"

/** `12 s`, `4 min`, `3 h`: an age at a glance. */
const age = (seconds: number): string => (seconds < 120 ? `${Math.round(seconds)} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds / 3600)} h`)

type QueueView = Effect.Effect.Success<EngineAdmin["queues"]>[number]

/** `20`, `2 × 10`, `10 + 5`: each live process's runners of a queue; `none` without a process. */
const perProcess = (counts: ReadonlyArray<number>): string => {
  const [first] = counts
  if (first === undefined) return "none"
  return counts.length > 1 && counts.every((n) => n === first) ? `${counts.length} × ${first}` : counts.join(" + ")
}

const SPARK_WIDTH = 120
const SPARK_HEIGHT = 24

/**
 * Jobs finished per minute over the last hour as a tiny bar chart (completed, with discarded on top
 * in red), scaled to its own busiest minute; its text alternative and the line under it say it in words.
 */
const Sparkline = ({ queue, throughput }: { queue: string; throughput: QueueThroughput | undefined }) => {
  const minutes = throughput?.minutes ?? []
  const total = (throughput?.completed ?? 0) + (throughput?.discarded ?? 0)
  const peak = throughput?.peak ?? 0
  const words =
    total === 0
      ? "no jobs finished in the last hour"
      : `${total} job${total === 1 ? "" : "s"} finished in the last hour${throughput?.discarded ? `, ${throughput.discarded} of them discarded` : ""}, peak ${peak}/min`
  const bar = SPARK_WIDTH / 60
  const scale = (n: number) => (n / Math.max(1, peak)) * SPARK_HEIGHT
  return (
    <span class="spark">
      <svg viewBox={`0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT + 1}`} role="img" aria-label={`${queue}: ${words}`} preserveAspectRatio="none">
        <title>{`${queue}: ${words}, oldest minute on the left`}</title>
        <line class="axis" x1="0" y1={SPARK_HEIGHT + 0.5} x2={SPARK_WIDTH} y2={SPARK_HEIGHT + 0.5} />
        {minutes.map((m, i) => {
          const done = scale(m.completed)
          const bad = scale(m.discarded)
          return m.completed + m.discarded === 0 ? null : (
            <g>
              {done > 0 ? <rect class="bar" x={i * bar} y={SPARK_HEIGHT - done} width={bar * 0.8} height={done} /> : null}
              {bad > 0 ? <rect class="bar bad" x={i * bar} y={SPARK_HEIGHT - done - bad} width={bar * 0.8} height={bad} /> : null}
            </g>
          )
        })}
      </svg>
      <span class="hint" aria-hidden="true">
        {total === 0 ? "none" : `${total}, peak ${peak}/min`}
      </span>
    </span>
  )
}

/**
 * Each queue's state, depth, oldest wait and runners; with each process's runners and the last hour's
 * throughput when `throughput` is given, and pause and resume when `page` is given.
 */
export const QueueTable = ({ queues, page: context, throughput }: { queues: ReadonlyArray<QueueView>; page?: PageContext; throughput?: ReadonlyMap<string, QueueThroughput> }) => (
  <Table
    caption="Queues"
    headers={[
      "queue",
      "state",
      "available",
      "scheduled",
      "running",
      "retryable",
      "discarded",
      "oldest wait",
      "runners",
      ...(throughput === undefined ? [] : ["per process", "finished, last hour"]),
      ...(context === undefined ? [] : [""])
    ]}
    empty={queues.length === 0}
    id="queues"
  >
    {queues.map((q) => (
      <tr>
        <th scope="row">
          <a href={href("/admin/jobs", { queue: q.queue })}>{q.queue}</a>
        </th>
        <td>
          <Status value={q.paused ? "paused" : "active"} />
          {q.paused ? (
            <span class="hint">
              {" by "}
              {q.pausedBy} <Time at={q.pausedAt} />
            </span>
          ) : null}
        </td>
        <td class="num">{q.available}</td>
        <td class="num">{q.scheduled}</td>
        <td class="num">{q.running}</td>
        <td class="num">{q.retryable}</td>
        <td class="num">{q.discarded}</td>
        <td class="num">{age(q.oldestAvailableAgeSeconds)}</td>
        <td class="num">{q.concurrency}</td>
        {throughput === undefined ? null : (
          <>
            <td class="num">{perProcess(q.perProcess)}</td>
            <td>
              <Sparkline queue={q.queue} throughput={throughput.get(q.queue)} />
            </td>
          </>
        )}
        {context === undefined ? null : (
          <td>
            {q.paused ? (
              <Action page={context} action={`/admin/queues/${encodeURIComponent(q.queue)}/resume`} label="Resume" />
            ) : (
              <Action page={context} action={`/admin/queues/${encodeURIComponent(q.queue)}/pause`} label="Pause" confirm={`Pause ${q.queue}? No process starts its jobs until it is resumed.`} />
            )}
          </td>
        )}
      </tr>
    ))}
  </Table>
)

export const enginePages = (routes: ConsoleRoutes, engine: EngineAdmin) => {
  const operator = (c: { get(key: "session"): { readonly name: string } | undefined }) => c.get("session")?.name ?? "console"

  page(routes, "/admin/queues", undefined, ({ page: context }) =>
    Effect.map(Effect.all([engine.queues, engine.throughput], { concurrency: 2 }), ([queues, throughput]) => (
      <Layout title="Queues" page={context}>
        <div id="queues-list" data-live>
          <QueueTable queues={queues} page={context} throughput={throughput} />
          <p class="hint">
            Runners: jobs of the queue the live processes run at once, summed; per process, each live process's share. Finished: jobs completed (blue) and discarded (red) in
            each minute of the last hour, oldest on the left, scaled to the busiest minute; cancelled jobs are not counted. A pause holds in every process within a second;
            running jobs finish.
          </p>
        </div>
      </Layout>
    ))
  )

  for (const [verb, paused, route] of [
    ["pause", true, pauseQueue],
    ["resume", false, resumeQueue]
  ] as const) {
    action(routes, `/admin/queues/:queue/${verb}`, { route }, ({ params }, c) =>
      Effect.map(engine.setPaused(params["queue"] ?? "", paused, operator(c)), (q) => ({ notice: `Queue ${q.queue} ${paused ? "paused" : "resumed"}.` }))
    )
  }

  page(routes, "/admin/crons", undefined, ({ page: context }) =>
    Effect.map(engine.cronViews(), (crons) => (
      <Layout title="Recurring tasks" page={context}>
        <div id="crons-list" data-live>
          <Table caption="Cron schedules" headers={["name", "schedule", "job", "state", "next run", "last run", ""]} empty={crons.length === 0} id="crons">
            {crons.map((cron) => (
              <tr>
                <th scope="row">{cron.name}</th>
                <td>
                  <code>{cron.schedule}</code>
                </td>
                <td>{`${cron.kind} on ${cron.queue}`}</td>
                <td>
                  <Status value={cron.enabled ? "enabled" : "disabled"} />
                  {cron.updatedBy === undefined ? null : <span class="hint">{` by ${cron.updatedBy}`}</span>}
                </td>
                <td>{cron.enabled ? <Time at={cron.nextRunAt} /> : <span class="none">not while disabled</span>}</td>
                <td>
                  {cron.lastRun === undefined ? (
                    <span class="none">none kept</span>
                  ) : (
                    <>
                      <a href={`/admin/jobs/${cron.lastRun.jobId}`}>
                        <Time at={cron.lastRun.runAt} />
                      </a>{" "}
                      <Status value={cron.lastRun.state} />
                    </>
                  )}
                </td>
                <td>
                  <Action page={context} action={`/admin/crons/${cron.name}/run`} label="Run now" />{" "}
                  {cron.enabled ? (
                    <Action page={context} action={`/admin/crons/${cron.name}/disable`} label="Disable" confirm={`Disable ${cron.name} in every process?`} />
                  ) : (
                    <Action page={context} action={`/admin/crons/${cron.name}/enable`} label="Enable" />
                  )}
                </td>
              </tr>
            ))}
          </Table>
          <p class="hint">Run now enqueues the job once, outside the schedule: the next run stays where it is.</p>
        </div>
      </Layout>
    ))
  )

  action(routes, "/admin/crons/:name/run", { route: runCron }, ({ params }) =>
    Effect.map(engine.runCron(params["name"] ?? ""), (job) => ({ notice: `${params["name"] ?? ""} runs now as job ${job.id}.`, detail: { jobId: job.id }, to: `/admin/jobs/${job.id}` }))
  )
  for (const [verb, enabled, route] of [
    ["enable", true, enableCron],
    ["disable", false, disableCron]
  ] as const) {
    action(routes, `/admin/crons/:name/${verb}`, { route }, ({ params }, c) =>
      Effect.map(engine.setCronEnabled(params["name"] ?? "", enabled, operator(c)), (cron) => ({ notice: `${cron.name} ${enabled ? "enabled" : "disabled"} in every process.` }))
    )
  }

  page(routes, "/admin/workers", undefined, ({ page: context }) =>
    Effect.map(engine.processes, (processes) => {
      const now = Date.now()
      return (
        <Layout title="Workers" page={context}>
          <div id="workers-list" data-live>
            <Table caption="Live processes" headers={["process", "role", "version", "host", "started", "heartbeat", "runners busy", ""]} empty={processes.length === 0} id="workers">
              {processes.map((p) => (
                <tr>
                  <td>
                    <code>{p.id.slice(0, 8)}</code>
                  </td>
                  <td>{p.role}</td>
                  <td title={[p.revision === null ? undefined : `revision ${p.revision}`, p.runtime ?? undefined].filter((x) => x !== undefined).join(", ") || undefined}>
                    {p.version ?? "—"}
                    {p.runtime === null ? null : <span class="hint">{` ${p.runtime}`}</span>}
                  </td>
                  <td>{`${p.hostname} (pid ${p.pid})`}</td>
                  <td>
                    <Time at={p.startedAt} />
                  </td>
                  <td>{`${age((now - p.heartbeatAt.getTime()) / 1000)} ago`}</td>
                  <td>
                    {Object.entries(p.queues)
                      .map(([queue, load]) => `${queue} ${load.running}/${load.concurrency}`)
                      .join(", ") || "none (serves HTTP only)"}
                  </td>
                  <td>
                    {p.drainRequestedAt === null ? (
                      <Action page={context} action={`/admin/workers/${p.id}/drain`} label="Drain and stop" danger confirm={`Drain ${p.hostname} pid ${p.pid}? It finishes its running jobs and exits.`} />
                    ) : (
                      <span>
                        <Status value="draining" /> <span class="hint">{`asked by ${p.drainRequestedBy ?? "?"}`}</span>
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </Table>
          </div>
        </Layout>
      )
    })
  )

  action(routes, "/admin/workers/:id/drain", { route: drainProcess }, ({ params }, c) =>
    Effect.map(engine.drain(params["id"] ?? "", operator(c)), (p) => ({ notice: `${p.hostname} pid ${p.pid} drains and stops at its next heartbeat.` }))
  )
}
