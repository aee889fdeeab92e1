/**
 * The console's form controls: each labelled, with its hint and its errors
 * tied to it (`aria-describedby`, `aria-invalid`), and a summary of the errors
 * at the top that links to each field, so a keyboard or screen-reader user
 * hears what is wrong and can go straight to it. A form drawn again after a
 * refusal keeps what was typed.
 */
import type { Child, FC, PropsWithChildren } from "hono/jsx"
import type { FieldError } from "../Failures.ts"
import { DAY_NAMES, type PageContext, WEEK } from "./Components.tsx"
import { fieldOf, type FormFields } from "./Forms.ts"

/** What a form shows: its values, and its errors by field. */
export interface FormState {
  readonly values: FormFields
  readonly errors: ReadonlyMap<string, ReadonlyArray<string>>
}

export const formState = (values: FormFields, errors: ReadonlyArray<FieldError> = []): FormState => {
  const byField = new Map<string, Array<string>>()
  // an error about a whole (`hours`: "expected null") says less than one about its part (`hours/mon/0`): keep the part's
  const specific = errors.filter((error) => !errors.some((other) => other.path.startsWith(`${error.path}/`)))
  for (const error of specific) {
    const { field, message } = fieldOf(error)
    byField.set(field, [...(byField.get(field) ?? []), message])
  }
  return { values, errors: byField }
}

const idOf = (name: string): string => `f-${name.replace(/[^A-Za-z0-9_-]/g, "-")}`

/** The errors of a form, each a link to its field; focused when the page opens (the script does it). */
export const ErrorSummary: FC<{ state: FormState; labels: Readonly<Record<string, string>> }> = ({ state, labels }) => {
  const entries = [...state.errors.entries()]
  if (entries.length === 0) return null
  const count = entries.reduce((n, [, messages]) => n + messages.length, 0)
  return (
    <div class="error summary" role="alert" tabindex={-1} id="errors">
      <h2>{count === 1 ? "One value needs changing; nothing was saved" : `${count} values need changing; nothing was saved`}</h2>
      <ul>
        {entries.flatMap(([field, messages]) =>
          messages.map((message) => (
            <li>
              {field === "" ? message : <a href={`#${idOf(field)}`}>{`${labels[field] ?? field}: ${message}`}</a>}
            </li>
          ))
        )}
      </ul>
    </div>
  )
}

interface FieldProps {
  readonly state: FormState
  readonly name: string
  readonly label: string
  readonly hint?: string | undefined
}

/** The hint and error paragraphs of a field, and the attributes that tie them to it. */
const described = ({ state, name, hint }: FieldProps) => {
  const id = idOf(name)
  const errors = state.errors.get(name) ?? []
  const ids = [hint === undefined ? undefined : `${id}-hint`, errors.length === 0 ? undefined : `${id}-error`].filter((x) => x !== undefined)
  return {
    id,
    attributes: { id, "aria-describedby": ids.length === 0 ? undefined : ids.join(" "), "aria-invalid": errors.length === 0 ? undefined : "true" },
    notes: (
      <>
        {hint === undefined ? null : (
          <span class="hint" id={`${id}-hint`}>
            {hint}
          </span>
        )}
        {errors.length === 0 ? null : (
          <span class="field-error" id={`${id}-error`}>
            {errors.join("; ")}
          </span>
        )}
      </>
    )
  }
}

/** A one-line text input. */
export const TextInput: FC<FieldProps & { type?: string; required?: boolean; autocomplete?: string; inputmode?: "numeric" | "tel" | "url" | "email"; size?: number }> = (props) => {
  const { id, attributes, notes } = described(props)
  return (
    <div class={`field${props.state.errors.has(props.name) ? " invalid" : ""}`}>
      <label for={id}>{props.label}</label>
      {notes}
      <input
        {...attributes}
        name={props.name}
        type={props.type ?? "text"}
        value={props.state.values[props.name] ?? ""}
        required={props.required}
        autocomplete={props.autocomplete ?? "off"}
        inputmode={props.inputmode}
        size={props.size}
      />
    </div>
  )
}

/** A textarea of lines. */
export const LinesInput: FC<FieldProps & { rows?: number }> = (props) => {
  const { id, attributes, notes } = described(props)
  return (
    <div class={`field${props.state.errors.has(props.name) ? " invalid" : ""}`}>
      <label for={id}>{props.label}</label>
      {notes}
      <textarea {...attributes} name={props.name} rows={props.rows ?? 3} spellcheck={false}>
        {props.state.values[props.name] ?? ""}
      </textarea>
    </div>
  )
}

/** A checkbox (sent as `on` when ticked). */
export const CheckInput: FC<FieldProps> = (props) => {
  const { attributes, notes } = described(props)
  const value = props.state.values[props.name]
  return (
    <div class={`field check${props.state.errors.has(props.name) ? " invalid" : ""}`}>
      <label>
        <input {...attributes} type="checkbox" name={props.name} checked={value !== undefined && value !== "" && value !== "off"} /> {props.label}
      </label>
      {notes}
    </div>
  )
}

/** A choice among `options` (`[value, text]`). */
export const SelectInput: FC<FieldProps & { options: ReadonlyArray<readonly [string, string]> }> = (props) => {
  const { id, attributes, notes } = described(props)
  return (
    <div class={`field${props.state.errors.has(props.name) ? " invalid" : ""}`}>
      <label for={id}>{props.label}</label>
      {notes}
      <select {...attributes} name={props.name}>
        {props.options.map(([value, text]) => (
          <option value={value} selected={value === props.state.values[props.name]}>
            {text}
          </option>
        ))}
      </select>
    </div>
  )
}

/** A group of fields with a legend (and its own errors, for a rule about the whole group). */
export const Group: FC<PropsWithChildren<{ legend: string; state: FormState; name?: string; hint?: string }>> = ({ legend, state, name, hint, children }) => {
  const errors = name === undefined ? [] : (state.errors.get(name) ?? [])
  return (
    <fieldset class={errors.length === 0 ? undefined : "invalid"} id={name === undefined ? undefined : idOf(name)} tabindex={name === undefined ? undefined : -1}>
      <legend>{legend}</legend>
      {hint === undefined ? null : <p class="hint">{hint}</p>}
      {errors.length === 0 ? null : <p class="field-error">{errors.join("; ")}</p>}
      {children}
    </fieldset>
  )
}

/** Opening hours, one field per day (`hours.mon`: `09:00-12:00, 13:00-17:30`), Monday first, in a group with the errors about the whole. */
export const HoursInput: FC<{ state: FormState; legend: string; hint: string }> = ({ state, legend, hint }) => (
  <Group legend={legend} state={state} name="hours" hint={hint}>
    <div class="week">
      {WEEK.map((day) => (
        <TextInput state={state} name={`hours.${day}`} label={DAY_NAMES[day]} />
      ))}
    </div>
  </Group>
)

/** The labels of the hours' fields in an error summary. */
export const HOURS_LABELS: Readonly<Record<string, string>> = Object.fromEntries(WEEK.map((day) => [`hours.${day}`, DAY_NAMES[day]]))

/**
 * A form that POSTs to `action` with the session's CSRF token and comes back to this page; a viewer sees
 * its fields and a disabled button (the server refuses its posts anyway).
 */
export const PostForm: FC<PropsWithChildren<{ page: PageContext; action: string; submit: string; class?: string; confirm?: string; after?: Child }>> = ({
  page,
  action,
  submit,
  children,
  confirm,
  after,
  ...rest
}) => {
  const readOnly = page.session.role !== "admin"
  return (
    <form method="post" action={action} class={rest.class ?? "edit"} data-confirm={confirm}>
      <input type="hidden" name="_csrf" value={page.csrf} />
      <input type="hidden" name="back" value={page.here} />
      <fieldset class="plain" disabled={readOnly}>
        {children}
        <p class="submit">
          <button type="submit" title={readOnly ? "read-only: a viewer cannot change anything" : undefined}>
            {submit}
          </button>
          {after}
        </p>
      </fieldset>
    </form>
  )
}
