/**
 * The job engine's controls: `GET /admin/queues` (depth, oldest wait,
 * capacity, pause and resume), `GET /admin/crons` (each schedule's next and
 * last run, run now, enable and disable) and `GET /admin/workers` (the live
 * processes, their heartbeat age and runners busy per queue, drain). Each
 * control is the admin API's operation (src/jobs/EngineAdmin.ts), done as the
 * signed-in operator.
 */
import * as Effect from "effect/Effect"
import { disableCron, drainProcess, enableCron, pauseQueue, resumeQueue, runCron } from "../../http/contract/Jobs.ts"
import type { EngineAdmin } from "../../jobs/EngineAdmin.ts"
import { Action, href, Layout, type PageContext, Status, Table, Time } from "../Components.tsx"
import { action, type ConsoleRoutes, page } from "../ConsoleRouter.tsx"

/** `12 s`, `4 min`, `3 h`: an age at a glance. */
const age = (seconds: number): string => (seconds < 120 ? `${Math.round(seconds)} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds / 3600)} h`)

type QueueView = Effect.Effect.Success<EngineAdmin["queues"]>[number]

/** Each queue's state, depth, oldest wait and runners; with pause and resume when `page` is given. */
export const QueueTable = ({ queues, page: context }: { queues: ReadonlyArray<QueueView>; page?: PageContext }) => (
  <Table
    caption="Queues"
    headers={["queue", "state", "available", "scheduled", "running", "retryable", "discarded", "oldest wait", "runners", ...(context === undefined ? [] : [""])]}
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
    Effect.map(engine.queues, (queues) => (
      <Layout title="Queues" page={context}>
        <div id="queues-list" data-live>
          <QueueTable queues={queues} page={context} />
          <p class="hint">Runners: jobs of the queue the live processes run at once, summed. A pause holds in every process within a second; running jobs finish.</p>
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
            <Table caption="Live processes" headers={["process", "role", "host", "started", "heartbeat", "runners busy", ""]} empty={processes.length === 0} id="workers">
              {processes.map((p) => (
                <tr>
                  <td>
                    <code>{p.id.slice(0, 8)}</code>
                  </td>
                  <td>{p.role}</td>
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
