/**
 * `GET /admin/jobs` and `/admin/jobs/{id}`: jobs by queue, kind and state,
 * with a search in their arguments, newest first a page at a time (every
 * filter is in the URL, so each view is a link); one job with its arguments,
 * every attempt's error and stack, its timing and its trace; retry and cancel
 * where the job's state allows them.
 */
import * as Effect from "effect/Effect"
import { statesFor } from "../../../domain/jobs/BulkOperation.ts"
import { JobStates } from "../../../domain/jobs/JobState.ts"
import type { Job } from "../../../domain/jobs/Job.ts"
import { JobStore } from "../../../infra/jobs/JobStore.ts"
import { orNotFound } from "../../Failures.ts"
import { cancelJob, deleteJob, JobsQuery, retryJob, runJobNow } from "../../http/contract/Jobs.ts"
import type { EngineAdmin } from "../../jobs/EngineAdmin.ts"
import { BulkControls } from "./Bulk.tsx"
import { Action, Choice, Facts, href, Layout, type PageContext, Pager, Status, Table, Time } from "../Components.tsx"
import { action, type ConsoleRoutes, page } from "../ConsoleRouter.tsx"


const JobActions = ({ job, page: context }: { job: Job; page: PageContext }) => (
  <>
    {statesFor("retry").includes(job.state) ? <Action page={context} action={`/admin/jobs/${job.id}/retry`} label="Retry" /> : null}
    {job.state === "scheduled" ? <Action page={context} action={`/admin/jobs/${job.id}/run-now`} label="Run now" /> : null}
    {statesFor("cancel").includes(job.state) ? <Action page={context} action={`/admin/jobs/${job.id}/cancel`} label="Cancel" danger confirm={`Cancel job ${job.id}?`} /> : null}
    {statesFor("delete").includes(job.state) ? <Action page={context} action={`/admin/jobs/${job.id}/delete`} label="Delete" danger confirm={`Delete job ${job.id}? Its record and errors go.`} /> : null}
  </>
)

const lastError = (job: Job): string => job.errors.at(-1)?.message ?? ""

export const jobPages = (routes: ConsoleRoutes, engine: EngineAdmin, kinds: ReadonlyArray<{ readonly kind: string; readonly queue: string }>) => {
  page(routes, "/admin/jobs", JobsQuery, ({ query, page: context }) =>
    Effect.gen(function* () {
      const items = yield* Effect.flatMap(JobStore, (store) =>
        store.list({ state: query.state, queue: query.queue, kind: query.kind, search: query.q, before: query.cursor, limit: query.limit })
      )
      const filters = { state: query.state, queue: query.queue, kind: query.kind, q: query.q }
      const last = items.at(-1)
      return (
        <Layout title="Jobs" page={context}>
          <form method="get" action="/admin/jobs" class="filters" role="search">
            <Choice label="State" name="state" options={JobStates} selected={query.state} />
            <Choice label="Queue" name="queue" options={[...new Set(kinds.map((k) => k.queue))].sort()} selected={query.queue} />
            <Choice label="Kind" name="kind" options={kinds.map((k) => [k.kind, k.kind] as const).sort()} selected={query.kind} />
            <label>
              Arguments contain
              <input type="search" name="q" value={query.q ?? ""} />
            </label>
            <button type="submit">Filter</button>
          </form>
          <BulkControls filter={{ state: query.state, queue: query.queue, kind: query.kind, q: query.q }} page={context} selection="bulk-selection" />
          <div id="jobs-list" data-live>
            <Table caption="Jobs, newest first" headers={["select", "id", "queue", "kind", "state", "attempt", "run at", "last error", ""]} empty={items.length === 0} id="jobs">
              {items.map((job) => (
                <tr>
                  <td>
                    <input type="checkbox" name="ids" value={job.id} form="bulk-selection" aria-label={`select job ${job.id}`} />
                  </td>
                  <td>
                    <a href={`/admin/jobs/${job.id}`}>{job.id}</a>
                  </td>
                  <td>{job.queue}</td>
                  <td>{job.kind}</td>
                  <td>
                    <Status value={job.state} />
                  </td>
                  <td class="num">{`${job.attempt}/${job.maxAttempts}`}</td>
                  <td>
                    <Time at={job.runAt} />
                  </td>
                  <td>{lastError(job)}</td>
                  <td>
                    <JobActions job={job} page={context} />
                  </td>
                </tr>
              ))}
            </Table>
            <Pager path="/admin/jobs" query={filters} cursor={items.length === query.limit ? last?.id : undefined} />
          </div>
        </Layout>
      )
    })
  )

  page(routes, "/admin/jobs/:id", undefined, ({ page: context }, c) =>
    Effect.gen(function* () {
      const id = c.req.param("id") ?? ""
      const job = yield* Effect.flatMap(JobStore, (store) => store.get(id)).pipe(Effect.flatMap(orNotFound("job", id)))
      return (
        <Layout title={`Job ${job.id}`} page={context}>
          <div id="job-detail" data-live>
            <p>
              <Status value={job.state} /> <JobActions job={job} page={context} />
            </p>
            <Facts
              rows={[
                ["queue", job.queue],
                ["kind", <a href={href("/admin/jobs", { kind: job.kind })}>{job.kind}</a>],
                ["attempt", `${job.attempt} of ${job.maxAttempts}`],
                ["priority", String(job.priority)],
                ["created", <Time at={job.createdAt} />],
                ["run at", <Time at={job.runAt} />],
                ["last attempted", <Time at={job.attemptedAt} />],
                ["finished", <Time at={job.finishedAt} />],
                ["unique key", job.uniqueKey ?? "—"],
                ["concurrency key", job.concurrencyKey === null ? "—" : `${job.concurrencyKey}${job.waitingForSlot ? " (waiting for a slot)" : ""}`],
                ["trace", job.traceparent === null ? "—" : <code>{job.traceparent.split("-")[1] ?? job.traceparent}</code>]
              ]}
            />
            <h2>Arguments</h2>
            <pre tabindex={0} aria-label="the arguments, as JSON">{JSON.stringify(job.args, null, 2)}</pre>
            <h2>Attempts that failed</h2>
            <Table caption="Errors, one per failed attempt" headers={["attempt", "at", "kind", "message"]} empty={job.errors.length === 0}>
              {job.errors.map((error) => (
                <tr>
                  <td class="num">{error.attempt}</td>
                  <td>
                    <Time at={new Date(error.at)} />
                  </td>
                  <td>{error.kind}</td>
                  <td>
                    {error.message}
                    {error.stack === undefined ? null : (
                      <details>
                        <summary>stack</summary>
                        <pre tabindex={0} aria-label="stack">{error.stack}</pre>
                      </details>
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

  for (const [name, change, done, route] of [
    ["retry", "retry", "retried", retryJob],
    ["cancel", "cancel", "cancelled", cancelJob],
    ["run-now", "runNow", "made available now", runJobNow]
  ] as const) {
    action(routes, `/admin/jobs/:id/${name}`, { route }, ({ params }) =>
      Effect.map(engine.operate(params["id"] ?? "", change), (job) => ({ notice: `Job ${job.id} ${done}: it is ${job.state} now.`, detail: { state: job.state } }))
    )
  }
  action(routes, "/admin/jobs/:id/delete", { route: deleteJob }, ({ params }) =>
    Effect.map(engine.operate(params["id"] ?? "", "delete"), (job) => ({ notice: `Job ${job.id} deleted.`, to: href("/admin/jobs", { queue: job.queue }) }))
  )
}
