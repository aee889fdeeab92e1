/**
 * Bulk actions on jobs: from the jobs page, everything its filter matches or
 * the rows selected on the page; a review page that says how many jobs the
 * action would change and asks to confirm that count; then the operation
 * (src/jobs/BulkOperations.ts) runs as a job in batches, and its page shows
 * how far it got until it has finished. A count that changed between review
 * and confirmation is refused, and nothing changes.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { BulkAction, BulkJobFilter } from "../../../domain/jobs/BulkOperation.ts"
import * as Bulk from "../../jobs/BulkOperations.ts"
import { startBulk } from "../../http/contract/Bulk.ts"
import { decodeAll } from "../../http/Validate.ts"
import { validationFailed } from "../../Failures.ts"
import { Facts, href, Layout, type PageContext, Status, Time } from "../Components.tsx"
import { action, type ConsoleRoutes, page } from "../ConsoleRouter.tsx"

const VERBS: Readonly<Record<BulkAction, string>> = { retry: "Retry", cancel: "Cancel", delete: "Delete" }

/** The filter's fields as words (`state discarded, queue calls`), or "every job". */
const describe = (filter: BulkJobFilter): string =>
  [
    filter.state === undefined ? undefined : `state ${filter.state}`,
    filter.queue === undefined ? undefined : `queue ${filter.queue}`,
    filter.kind === undefined ? undefined : `kind ${filter.kind}`,
    filter.q === undefined ? undefined : `arguments containing “${filter.q}”`,
    filter.ids === undefined ? undefined : `the ${filter.ids.length} selected`
  ]
    .filter((part) => part !== undefined)
    .join(", ") || "every job"

/** The filter as a form's fields (ids comma-separated). */
const fieldsOf = (filter: BulkJobFilter): Record<string, string> =>
  Object.fromEntries(
    Object.entries({ ...filter, ids: filter.ids?.join(",") }).filter((entry): entry is [string, string] => typeof entry[1] === "string")
  )

/** A filter from a form's or a query's fields: the jobs list's, and `ids` (repeated, or comma-separated). */
const filterFrom = (fields: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>) => {
  const ids = [fields["ids"] ?? []].flat().flatMap((text) => text.split(",")).filter((id) => id !== "")
  const given = Object.fromEntries(["state", "queue", "kind", "q"].flatMap((name) => (typeof fields[name] === "string" && fields[name] !== "" ? [[name, fields[name]]] : [])))
  return decodeAll(BulkJobFilter, { ...given, ...(ids.length === 0 ? {} : { ids }) }, "query")
}

const BulkForm = Schema.Struct({
  action: BulkAction,
  expectedCount: Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()),
  state: Schema.optional(Schema.String),
  queue: Schema.optional(Schema.String),
  kind: Schema.optional(Schema.String),
  q: Schema.optional(Schema.String),
  ids: Schema.optional(Schema.String)
})

/** A choice of bulk action, and the button that goes to its review (disabled for a viewer). */
const ActionChoice = ({ label, page: context }: { label: string; page: PageContext }) => (
  <>
    <label>
      {label}
      <select name="action">
        {BulkAction.literals.map((a) => (
          <option value={a}>{VERBS[a]}</option>
        ))}
      </select>
    </label>
    <button type="submit" disabled={context.session.role !== "admin"}>
      Review…
    </button>
  </>
)

/** The jobs page's bulk controls: an action on everything the filter matches (`selection` names the form its row checkboxes belong to). */
export const BulkControls = ({ filter, page: context, selection }: { filter: BulkJobFilter; page: PageContext; selection: string }) => (
  <>
    <form method="get" action="/admin/jobs/bulk" class="filters" aria-label="Act on every job this filter matches">
      {Object.entries(fieldsOf(filter)).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <ActionChoice label="Every job matching this filter" page={context} />
    </form>
    <form method="get" action="/admin/jobs/bulk" id={selection} class="filters" aria-label="Act on the jobs selected below">
      <ActionChoice label="The jobs selected below" page={context} />
    </form>
  </>
)

export const bulkPages = (routes: ConsoleRoutes) => {
  page(routes, "/admin/jobs/bulk", undefined, ({ page: context }, c) =>
    Effect.gen(function* () {
      const chosen = Schema.decodeUnknownEither(BulkAction)(c.req.query("action"))
      const filter = filterFrom({ ...c.req.query(), ids: c.req.queries("ids") })
      if (Either.isLeft(chosen) || Either.isLeft(filter)) {
        return (
          <Layout title="Nothing to review" page={context}>
            <p class="error" role="alert">
              Choose an action, and a filter or some jobs on the jobs page.
            </p>
            <p>
              <a href="/admin/jobs">Back to the jobs</a>
            </p>
          </Layout>
        )
      }
      const verb = chosen.right
      const { matched, applicable } = yield* Bulk.preview(filter.right, verb)
      return (
        <Layout title={`${VERBS[verb]} jobs`} page={context}>
          <p id="bulk-summary">
            {`${VERBS[verb]} ${matched} job${matched === 1 ? "" : "s"} matching ${describe(filter.right)}? `}
            {`${applicable} of them ${applicable === 1 ? "is" : "are"} in a state ${verb} applies to; the rest are left as they are.`}
          </p>
          <p class="hint">It runs in batches of {Bulk.BATCH} as a job; jobs that arrive after you confirm are not included.</p>
          <form method="post" action="/admin/jobs/bulk">
            <input type="hidden" name="_csrf" value={context.csrf} />
            <input type="hidden" name="action" value={verb} />
            <input type="hidden" name="expectedCount" value={String(matched)} />
            {Object.entries(fieldsOf(filter.right)).map(([name, value]) => (
              <input type="hidden" name={name} value={value} />
            ))}
            <button type="submit" class={verb === "retry" ? undefined : "danger"} disabled={context.session.role !== "admin" || applicable === 0}>
              {`${VERBS[verb]} ${matched} job${matched === 1 ? "" : "s"}`}
            </button>{" "}
            <a href={href("/admin/jobs", { ...fieldsOf(filter.right), ids: undefined })}>Back to the jobs</a>
          </form>
        </Layout>
      )
    })
  )

  action(routes, "/admin/jobs/bulk", { route: startBulk, form: BulkForm }, ({ form }, c) =>
    Effect.gen(function* () {
      const filter = filterFrom({ state: form.state, queue: form.queue, kind: form.kind, q: form.q, ids: form.ids })
      if (Either.isLeft(filter)) return yield* Effect.fail(validationFailed(filter.left))
      const op = yield* Bulk.start(form.action, filter.right, c.get("session")?.name ?? "console", form.expectedCount)
      return { notice: `${VERBS[op.action]} of ${op.matched} jobs started.`, detail: { operation: op.id, matched: op.matched }, to: `/admin/bulk/${op.id}` }
    })
  )

  page(routes, "/admin/bulk/:id", undefined, ({ page: context }, c) =>
    Effect.map(Bulk.find(c.req.param("id") ?? ""), (op) => (
      <Layout title={`${VERBS[op.action]} of ${op.matched} jobs`} page={context}>
        <div id="bulk-progress" data-live data-finished={op.finishedAt === undefined ? "no" : "yes"}>
          <p>
            <Status value={op.finishedAt === undefined ? "running" : "completed"} />{" "}
            <span id="bulk-changed">{`${op.changed} changed`}</span>
            {` of ${op.matched} matched`}
          </p>
          <Facts
            rows={[
              ["jobs", describe(op.filter)],
              ["asked by", op.requestedBy],
              ["started", <Time at={op.createdAt} />],
              ["finished", <Time at={op.finishedAt} />]
            ]}
          />
          <p>
            <a href={href("/admin/jobs", { ...fieldsOf(op.filter), ids: undefined })}>The jobs this filter matches now</a>
          </p>
        </div>
      </Layout>
    ))
  )
}
