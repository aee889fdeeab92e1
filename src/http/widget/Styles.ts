/**
 * The widget's stylesheet, adopted by its shadow root as a constructed
 * stylesheet (so a page's CSP needs no 'unsafe-inline' for it). Every colour,
 * size and font is a CSS custom property with a default: custom properties
 * inherit into the shadow DOM, so a page themes the widget from outside
 * (docs/widget.md lists them); `::part()` reaches the main pieces.
 */
export const WIDGET_CSS = `
:host { display: block; max-width: var(--switchboard-max-width, 28rem); color: var(--switchboard-text, #1f2328);
  font: var(--switchboard-font-size, 1rem)/1.45 var(--switchboard-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif) }
:host([hidden]) { display: none }
* { box-sizing: border-box }
[hidden] { display: none !important }
.card { background: var(--switchboard-background, #fff); border: 1px solid var(--switchboard-border, #d0d7de);
  border-radius: var(--switchboard-radius, 12px); padding: var(--switchboard-padding, 1.25rem);
  box-shadow: var(--switchboard-shadow, 0 1px 3px rgba(31, 35, 40, .12)) }
h2 { font-size: 1.2em; line-height: 1.25; margin: 0 0 .35em; outline: none }
p { margin: 0 0 .5em }
.intro, .hint { color: var(--switchboard-muted, #59636e) }
.hint, .error { font-size: .875em; margin: .3em 0 0 }
.error { color: var(--switchboard-error, #cf222e); font-weight: 500 }
label { display: block; font-weight: 600; margin: .9em 0 .3em }
input, textarea, select { display: block; width: 100%; min-height: 2.75rem; font: inherit; color: inherit; padding: .55em .7em;
  background: var(--switchboard-input-background, #fff); border: 1px solid var(--switchboard-border, #d0d7de);
  border-radius: calc(var(--switchboard-radius, 12px) / 2) }
textarea { min-height: 4.5em; resize: vertical }
select { cursor: pointer; text-overflow: ellipsis }
input[aria-invalid="true"], textarea[aria-invalid="true"], select[aria-invalid="true"] { border-color: var(--switchboard-error, #cf222e) }
input.code { font-size: 1.4em; letter-spacing: .3em; font-variant-numeric: tabular-nums }
button { font: inherit; cursor: pointer }
button[aria-disabled="true"] { cursor: default; opacity: .6 }
.primary { display: block; width: 100%; min-height: 2.75rem; margin-top: 1.1em; padding: .6em 1em; border: 0; font-weight: 600;
  background: var(--switchboard-accent, #0969da); color: var(--switchboard-accent-text, #fff);
  border-radius: calc(var(--switchboard-radius, 12px) / 2) }
.challenge { margin-top: 1.1em }
.challenge .hint { margin-top: .4em }
::slotted([slot="challenge"]) { display: block; min-height: 65px; max-width: 100% }
.links { display: flex; flex-wrap: wrap; gap: .25em 1.25em; margin-top: .6em }
.link { background: none; border: 0; padding: .45em 0; min-height: 2.75rem; color: var(--switchboard-link, var(--switchboard-accent, #0969da));
  text-decoration: underline; text-underline-offset: .15em }
input:focus-visible, textarea:focus-visible, select:focus-visible, button:focus-visible, h2:focus-visible {
  outline: 3px solid var(--switchboard-focus, #0969da); outline-offset: 2px }
.status { display: flex; gap: .8em; align-items: flex-start; margin: .6em 0 .2em; font-size: 1.05em }
.status p { margin: 0 }
.status.quiet { margin: 0 }
.icon { flex: none; width: 1.5em; height: 1.5em; border-radius: 50%; margin-top: .05em; position: relative }
.busy .icon { border: 3px solid var(--switchboard-border, #d0d7de); border-top-color: var(--switchboard-accent, #0969da);
  animation: switchboard-spin 1s linear infinite }
.done .icon { background: var(--switchboard-success, #1a7f37) }
.done .icon::after { content: ""; position: absolute; left: .52em; top: .28em; width: .35em; height: .7em;
  border: solid #fff; border-width: 0 .16em .16em 0; transform: rotate(45deg) }
.stopped .icon { background: var(--switchboard-error, #cf222e) }
.stopped .icon::after { content: "!"; position: absolute; inset: 0; color: #fff; font-weight: 700; text-align: center; line-height: 1.5em }
@keyframes switchboard-spin { to { transform: rotate(360deg) } }
@media (prefers-reduced-motion: reduce) { .busy .icon { animation: none; border-style: dotted } }
.visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0 }
`
