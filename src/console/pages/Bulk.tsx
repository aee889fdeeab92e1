/**
 * Bulk actions on jobs and on callback requests: from the jobs or callbacks
 * page, everything its filter matches or the rows selected on the page; a
 * review page that says how many rows the action would change and asks to
 * confirm that count; then the operation (src/jobs/BulkOperations.ts) runs as
 * a job in batches, and its page shows how far it got until it has finished.
 * A count that changed between review and confirmation is refused, and
 * nothing changes. Both targets share these pages; `Target` says what differs.
 */
import type { Child } from "hono/jsx"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { BulkCallbackFilter, CallbackBulkAction } from "../../../domain/callbacks/BulkCallbacks.ts"
import { type AnyBulkOperation, BulkAction, BulkJobFilter } from "../../../domain/jobs/BulkOperation.ts"
import * as Businesses from "../../callbacks/Businesses.ts"
import * as Bulk from "../../jobs/BulkOperations.ts"
import { startBulk, startCallbackBulk } from "../../http/contract/Bulk.ts"
import type { AnyRoute, Wire } from "../../http/Contract.ts"
import type { HttpServices } from "../../http/Handler.ts"
import { decodeAll } from "../../http/Validate.ts"
import { validationFailed } from "../../Failures.ts"
import { Facts, href, Layout, type PageContext, Status, Time } from "../Components.tsx"
import { action, type ConsoleRoutes, page } from "../ConsoleRouter.tsx"

type AnyAction = BulkAction | CallbackBulkAction
const VERBS: Readonly<Record<AnyAction, string>> = { retry: "Retry", cancel: "Cancel", delete: "Delete" }

const Count = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())
const Text = Schema.optional(Schema.String)

/** A review form's fields: the action, the count confirmed, and the filter's fields as text (`ids` comma-separated). */
type FormOf<A extends string, K extends string> = { readonly action: A; readonly expectedCount: number } & { readonly [P in K]?: string | undefined }

/** What differs between the targets: their words, their pages, their filter and actions, their use cases. */
interface Target<A extends AnyAction, F, K extends string> {
  readonly one: string
  readonly many: string
  /** The list page the controls sit on, and the review page they lead to. */
  readonly list: string
  readonly review: string
  readonly actions: Wire<A> & { readonly literals: ReadonlyArray<A> }
  readonly filter: Wire<F>
  /** The list's filter fields, as the URL and the forms name them (besides `ids`). */
  readonly fields: ReadonlyArray<K>
  readonly form: Wire<FormOf<A, K | "ids">>
  /** The filter in words, "every job" when it names nothing. */
  readonly describe: (filter: F) => Effect.Effect<string, never, HttpServices>
  /** What an action checks on each row: "a state" (jobs) or "a status" (requests). */
  readonly condition: string
  readonly batch: number
  readonly preview: (filter: F, action: A) => Effect.Effect<{ readonly matched: number; readonly applicable: number }, unknown, HttpServices>
  readonly start: (action: A, filter: F, by: string, expected: number) => Effect.Effect<AnyBulkOperation, unknown, HttpServices>
  readonly route: AnyRoute
}

const words = (parts: ReadonlyArray<string | undefined>, none: string) => parts.filter((part) => part !== undefined).join(", ") || none

const JOBS: Target<BulkAction, BulkJobFilter, "state" | "queue" | "kind" | "q"> = {
  one: "job",
  many: "jobs",
  list: "/admin/jobs",
  review: "/admin/jobs/bulk",
  actions: BulkAction,
  filter: BulkJobFilter,
  fields: ["state", "queue", "kind", "q"],
  form: Schema.Struct({ action: BulkAction, expectedCount: Count, state: Text, queue: Text, kind: Text, q: Text, ids: Text }),
  describe: (filter) =>
    Effect.succeed(
      words(
        [
          filter.state === undefined ? undefined : `state ${filter.state}`,
          filter.queue === undefined ? undefined : `queue ${filter.queue}`,
          filter.kind === undefined ? undefined : `kind ${filter.kind}`,
          filter.q === undefined ? undefined : `arguments containing “${filter.q}”`,
          filter.ids === undefined ? undefined : `the ${filter.ids.length} selected`
        ],
        "every job"
      )
    ),
  condition: "a state",
  batch: Bulk.BATCH,
  preview: Bulk.preview,
  start: Bulk.start,
  route: startBulk
}

const CallbackFields = ["status", "businessId", "phone", "createdFrom", "createdBefore", "q"] as const

const CALLBACKS: Target<CallbackBulkAction, BulkCallbackFilter, (typeof CallbackFields)[number]> = {
  one: "callback request",
  many: "callback requests",
  list: "/admin/callbacks",
  review: "/admin/callbacks/bulk",
  actions: CallbackBulkAction,
  filter: BulkCallbackFilter,
  fields: CallbackFields,
  form: Schema.Struct({ action: CallbackBulkAction, expectedCount: Count, status: Text, businessId: Text, phone: Text, createdFrom: Text, createdBefore: Text, q: Text, ids: Text }),
  describe: (filter) =>
    Effect.map(
      // the business by its name, when it still has one
      filter.businessId === undefined ? Effect.succeed(undefined) : Effect.option(Businesses.find(filter.businessId)),
      (business) =>
        words(
          [
            filter.status === undefined ? undefined : `status ${filter.status.replace(/_/g, " ")}`,
            business === undefined ? undefined : `business ${business._tag === "Some" ? business.value.name : filter.businessId}`,
            filter.phone === undefined ? undefined : `phone ${filter.phone}`,
            filter.createdFrom === undefined ? undefined : `created from ${filter.createdFrom.toISOString()}`,
            filter.createdBefore === undefined ? undefined : `created before ${filter.createdBefore.toISOString()}`,
            filter.q === undefined ? undefined : `name or note containing “${filter.q}”`,
            filter.ids === undefined ? undefined : `the ${filter.ids.length} selected`
          ],
          "every callback request"
        )
    ),
  condition: "a status",
  batch: Bulk.CALLBACK_BATCH,
  preview: Bulk.previewCallbacks,
  start: Bulk.startCallbacks,
  route: startCallbackBulk
}

/** The filter as a form's or a link's fields: its encoded values, `ids` comma-separated. */
const fieldsOf = <F,>(schema: Wire<F>, filter: F): Record<string, string> =>
  Object.fromEntries(
    Object.entries(Schema.encodeSync(schema)(filter) as Record<string, unknown>).flatMap(([name, value]) =>
      typeof value === "string" ? [[name, value]] : Array.isArray(value) ? [[name, value.join(",")]] : []
    )
  )

/** A filter from a form's or a query's fields: the list's, and `ids` (repeated, or comma-separated). */
const filterFrom = <F,>(target: Pick<Target<AnyAction, F, string>, "filter" | "fields">, fields: Readonly<Record<string, unknown>>) => {
  const ids = [fields["ids"] ?? []]
    .flat()
    .flatMap((text) => (typeof text === "string" ? text.split(",") : []))
    .filter((id) => id !== "")
  const given = Object.fromEntries(target.fields.flatMap((name) => (typeof fields[name] === "string" && fields[name] !== "" ? [[name, fields[name]]] : [])))
  return decodeAll(target.filter, { ...given, ...(ids.length === 0 ? {} : { ids }) }, "query")
}

const counted = (noun: { readonly one: string; readonly many: string }, n: number) => `${n} ${n === 1 ? noun.one : noun.many}`

/** A choice of bulk action, and the button that goes to its review (disabled for a viewer). */
const ActionChoice = ({ label, actions, page: context }: { label: string; actions: ReadonlyArray<AnyAction>; page: PageContext }) => (
  <>
    <label>
      {label}
      <select name="action">
        {actions.map((a) => (
          <option value={a}>{VERBS[a]}</option>
        ))}
      </select>
    </label>
    <button type="submit" disabled={context.session.role !== "admin"}>
      Review…
    </button>
  </>
)

/** A list page's bulk controls: an action on everything the filter matches, or on the rows whose checkboxes name the form `selection`. */
const Controls = <A extends AnyAction, F, K extends string>({ target, filter, page: context, selection }: { target: Target<A, F, K>; filter: F; page: PageContext; selection: string }): Child => (
  <>
    <form method="get" action={target.review} class="filters" aria-label={`Act on every ${target.one} this filter matches`}>
      {Object.entries(fieldsOf(target.filter, filter)).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <ActionChoice label={`Every ${target.one} matching this filter`} actions={target.actions.literals} page={context} />
    </form>
    <form method="get" action={target.review} id={selection} class="filters" aria-label={`Act on the ${target.many} selected below`}>
      <ActionChoice label={`The ${target.many} selected below`} actions={target.actions.literals} page={context} />
    </form>
  </>
)

/** The jobs page's bulk controls. */
export const BulkControls = (props: { filter: BulkJobFilter; page: PageContext; selection: string }) => Controls({ target: JOBS, ...props })

/** The callbacks page's bulk controls. */
export const CallbackBulkControls = (props: { filter: BulkCallbackFilter; page: PageContext; selection: string }) => Controls({ target: CALLBACKS, ...props })

/** `GET review`: the counts to confirm; `POST review`: start the operation with the count confirmed. */
const reviewPages = <A extends AnyAction, F, K extends string>(routes: ConsoleRoutes, target: Target<A, F, K>) => {
  page(routes, target.review, undefined, ({ page: context }, c) =>
    Effect.gen(function* () {
      const chosen = Schema.decodeUnknownEither(target.actions)(c.req.query("action"))
      const filter = filterFrom(target, { ...c.req.query(), ids: c.req.queries("ids") })
      if (Either.isLeft(chosen) || Either.isLeft(filter)) {
        return (
          <Layout title="Nothing to review" page={context}>
            <p class="error" role="alert">
              {`Choose an action, and a filter or some ${target.many} on the ${target.many} page.`}
            </p>
            <p>
              <a href={target.list}>{`Back to the ${target.many}`}</a>
            </p>
          </Layout>
        )
      }
      const verb = chosen.right
      const { matched, applicable } = yield* target.preview(filter.right, verb)
      const what = yield* target.describe(filter.right)
      const fields = fieldsOf(target.filter, filter.right)
      return (
        <Layout title={`${VERBS[verb]} ${target.many}`} page={context}>
          <p id="bulk-summary">
            {`${VERBS[verb]} ${counted(target, matched)} matching ${what}? `}
            {`${applicable} of them ${applicable === 1 ? "is" : "are"} in ${target.condition} ${verb} applies to; the rest are left as they are.`}
          </p>
          <p class="hint">{`It runs in batches of ${target.batch} as a job; ${target.many} that arrive after you confirm are not included.`}</p>
          <form method="post" action={target.review}>
            <input type="hidden" name="_csrf" value={context.csrf} />
            <input type="hidden" name="action" value={verb} />
            <input type="hidden" name="expectedCount" value={String(matched)} />
            {Object.entries(fields).map(([name, value]) => (
              <input type="hidden" name={name} value={value} />
            ))}
            <button type="submit" class={verb === "retry" ? undefined : "danger"} disabled={context.session.role !== "admin" || applicable === 0}>
              {`${VERBS[verb]} ${counted(target, matched)}`}
            </button>{" "}
            <a href={href(target.list, { ...fields, ids: undefined })}>{`Back to the ${target.many}`}</a>
          </form>
        </Layout>
      )
    })
  )

  action(routes, target.review, { route: target.route, form: target.form }, ({ form }, c) =>
    Effect.gen(function* () {
      const filter = filterFrom(target, form)
      if (Either.isLeft(filter)) return yield* Effect.fail(validationFailed(filter.left))
      const op = yield* target.start(form.action, filter.right, c.get("session")?.name ?? "console", form.expectedCount)
      return { notice: `${VERBS[op.action]} of ${op.matched} ${target.many} started.`, detail: { operation: op.id, matched: op.matched }, to: `/admin/bulk/${op.id}` }
    })
  )
}

/** The callbacks' review pages: registered by the callbacks' pages, before `/admin/callbacks/{id}` (`bulk` is not a request's id). */
export const callbackBulkPages = (routes: ConsoleRoutes) => reviewPages(routes, CALLBACKS)

/** The jobs' review pages, and every operation's page. */
export const bulkPages = (routes: ConsoleRoutes) => {
  reviewPages(routes, JOBS)

  page(routes, "/admin/bulk/:id", undefined, ({ page: context }, c) =>
    Effect.gen(function* () {
      const op = yield* Bulk.find(c.req.param("id") ?? "")
      const { many: target, list } = op.target === "jobs" ? JOBS : CALLBACKS
      const what = yield* op.target === "jobs" ? JOBS.describe(op.filter) : CALLBACKS.describe(op.filter)
      const fields = op.target === "jobs" ? fieldsOf(JOBS.filter, op.filter) : fieldsOf(CALLBACKS.filter, op.filter)
      return (
        <Layout title={`${VERBS[op.action]} of ${op.matched} ${target}`} page={context}>
          <div id="bulk-progress" data-live data-finished={op.finishedAt === undefined ? "no" : "yes"}>
            <p>
              <Status value={op.finishedAt === undefined ? "running" : "completed"} />{" "}
              <span id="bulk-changed">{`${op.changed} changed`}</span>
              {` of ${op.matched} matched`}
            </p>
            <Facts
              rows={[
                [target, what],
                ["asked by", op.requestedBy],
                ["started", <Time at={op.createdAt} />],
                ["finished", <Time at={op.finishedAt} />]
              ]}
            />
            <p>
              <a href={href(list, { ...fields, ids: undefined })}>{`The ${target} this filter matches now`}</a>
            </p>
          </div>
        </Layout>
      )
    })
  )
}
