/**
 * The console's building blocks, rendered on the server with hono/jsx (every
 * interpolated value is escaped). A page is `Layout` around its content;
 * actions are small forms that POST with the session's CSRF token, so every
 * button works without script, and a viewer's are drawn disabled.
 */
import type { Child, FC, PropsWithChildren } from "hono/jsx"
import type { Hours } from "../../domain/callbacks/Business.ts"
import { Weekdays } from "../../domain/callbacks/OpeningHours.ts"
import type { Session } from "../../infra/console/Operators.ts"
import { ASSETS } from "./Assets.ts"

export interface PageContext {
  readonly session: Session
  readonly csrf: string
  /** The path and query of this page, to come back to after an action. */
  readonly here: string
  /** A message from the action that led here (`?notice=`). */
  readonly notice?: string | undefined
}

const NAV: ReadonlyArray<readonly [string, string]> = [
  ["/admin", "Overview"],
  ["/admin/callbacks", "Callbacks"],
  ["/admin/jobs", "Jobs"],
  ["/admin/queues", "Queues"],
  ["/admin/crons", "Recurring"],
  ["/admin/workers", "Workers"],
  ["/admin/businesses", "Businesses"],
  ["/admin/audit", "Audit"]
]

const current = (href: string, here: string): boolean => {
  const path = here.split("?")[0] ?? here
  return href === "/admin" ? path === "/admin" : path === href || path.startsWith(`${href}/`)
}

/** A page's head: its title, the stylesheet and icon, and (on pages with controls) the script. */
export const Head: FC<{ title: string; script?: boolean }> = ({ title, script }) => (
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>{`${title} · Switchboard`}</title>
    <link rel="stylesheet" href={ASSETS.css.path} />
    <link rel="icon" href={ASSETS.icon.path} type="image/svg+xml" />
    {script === true ? <script src={ASSETS.js.path} defer></script> : null}
  </head>
)

/** A filter's choice among `options`, `any` (empty) first. */
export const Choice: FC<{ label: string; name: string; options: ReadonlyArray<string | readonly [value: string, text: string]>; selected: string | undefined }> = ({ label, name, options, selected }) => (
  <label>
    {label}
    <select name={name}>
      <option value="">any</option>
      {options.map((option) => {
        const [value, text] = typeof option === "string" ? [option, option.replace(/_/g, " ")] : option
        return (
          <option value={value} selected={value === selected}>
            {text}
          </option>
        )
      })}
    </select>
  </label>
)

/** A whole console page. */
export const Layout: FC<PropsWithChildren<{ title: string; page: PageContext }>> = ({ title, page, children }) => (
  <html lang="en">
    <Head title={title} script />
    <body>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Switchboard</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map(([href, label]) => (
              <li>
                <a href={href} aria-current={current(href, page.here) ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <form method="post" action="/admin/sign-out" class="who">
          <span>
            {page.session.name} <span class="role">({page.session.role === "viewer" ? "read-only" : page.session.role})</span>
          </span>
          <input type="hidden" name="_csrf" value={page.csrf} />
          <button type="submit">Sign out</button>
        </form>
      </header>
      <div id="live" class="banner" role="status" aria-live="polite" hidden></div>
      {page.notice === undefined ? null : (
        <p class="notice" role="status">
          {page.notice}
        </p>
      )}
      {/* focusable from the skip link (not by Tab), so focus lands in the content and Tab goes on from there */}
      <main id="main" data-csrf={page.csrf} tabindex={-1}>
        <h1>{title}</h1>
        {children}
      </main>
    </body>
  </html>
)

/** An instant: UTC in the markup and on hover; the script shows it in the operator's time zone. */
export const Time: FC<{ at: Date | undefined | null }> = ({ at }) =>
  at === undefined || at === null ? <span class="none">—</span> : <time datetime={at.toISOString()} title={`${at.toISOString().replace("T", " ").slice(0, 19)} UTC`}>{`${at.toISOString().replace("T", " ").slice(0, 19)} UTC`}</time>

const TONE: Readonly<Record<string, string>> = {
  completed: "good",
  connected: "good",
  available: "info",
  queued: "info",
  scheduled: "info",
  pending_verification: "info",
  running: "busy",
  dialing: "busy",
  retryable: "warn",
  retry_scheduled: "warn",
  escalated: "warn",
  failed: "bad",
  discarded: "bad",
  expired: "muted",
  cancelled: "muted",
  paused: "warn",
  draining: "warn",
  exhausted: "bad",
  active: "good",
  enabled: "good",
  disabled: "muted",
  ok: "good",
  delivered: "good",
  sent: "info",
  undelivered: "bad",
  refused: "warn"
}

/** A state as a coloured label that says it in words. */
export const Status: FC<{ value: string }> = ({ value }) => <span class={`status ${TONE[value] ?? "muted"}`}>{value.replace(/_/g, " ")}</span>

/** One button that POSTs to `action` and comes back here; disabled for a viewer. */
export const Action: FC<{ page: PageContext; action: string; label: string; confirm?: string; danger?: boolean; fields?: Readonly<Record<string, string>> }> = ({
  page,
  action,
  label,
  confirm,
  danger,
  fields
}) => {
  const readOnly = page.session.role !== "admin"
  return (
    <form method="post" action={action} class="action" data-confirm={confirm}>
      <input type="hidden" name="_csrf" value={page.csrf} />
      <input type="hidden" name="back" value={page.here} />
      {Object.entries(fields ?? {}).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <button type="submit" class={danger === true ? "danger" : undefined} disabled={readOnly} title={readOnly ? "read-only: a viewer cannot change anything" : undefined}>
        {label}
      </button>
    </form>
  )
}

/** A link to the next page of a list, keeping its filters. */
export const Pager: FC<{ path: string; query: Readonly<Record<string, string | undefined>>; cursor: string | undefined }> = ({ path, query, cursor }) =>
  cursor === undefined ? null : (
    <p class="pager">
      <a href={href(path, { ...query, cursor })} rel="next">
        Older →
      </a>
    </p>
  )

/** `path?k=v&...` of the values that are set. */
export const href = (path: string, query: Readonly<Record<string, string | number | undefined>>): string => {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== "") params.set(key, String(value))
  const text = params.toString()
  return text === "" ? path : `${path}?${text}`
}

/** A table with a caption for screen readers, or a line saying there is nothing. */
export const Table: FC<PropsWithChildren<{ caption: string; headers: ReadonlyArray<string>; empty: boolean; id?: string }>> = ({ caption, headers, empty, id, children }) =>
  empty ? (
    <p class="empty" id={id}>
      Nothing to show: {caption.toLowerCase()}.
    </p>
  ) : (
    <div class="scroll" role="region" aria-label={caption} tabindex={0}>
      <table id={id}>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {headers.map((h) =>
              h === "" ? (
                <th scope="col">
                  <span class="visually-hidden">actions</span>
                </th>
              ) : (
                <th scope="col">{h}</th>
              )
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  )

/** A labelled definition list of facts about one thing. */
export const Facts: FC<{ rows: ReadonlyArray<readonly [string, Child]> }> = ({ rows }) => (
  <dl class="facts">
    {rows.map(([term, value]) => (
      <>
        <dt>{term}</dt>
        <dd>{value}</dd>
      </>
    ))}
  </dl>
)

export const DAY_NAMES: Readonly<Record<(typeof Weekdays)[number], string>> = { mon: "Monday", tue: "Tuesday", wed: "Wednesday", thu: "Thursday", fri: "Friday", sat: "Saturday", sun: "Sunday" }
/** Monday first, as people read a week. */
export const WEEK = [...Weekdays.slice(1), Weekdays[0]]

/** Opening hours as a line of text: `mon 09:00–12:00, 13:00–17:00; fri 09:00–15:00`, or `always` when there are none. */
export const hoursText = (hours: Hours | undefined, always = "always open"): string =>
  hours === undefined
    ? always
    : WEEK.filter((day) => (hours[day] ?? []).length > 0)
        .map((day) => `${day} ${(hours[day] ?? []).map(([open, close]) => `${open}–${close}`).join(", ")}`)
        .join("; ")
