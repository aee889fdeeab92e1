/**
 * The bot check's loader, as the browser runs it (inside the bundle, before
 * the element): `loadChallenge("turnstile" | "hcaptcha")` adds the provider's
 * script once per page, however many widgets ask, and resolves with its API
 * (`window.turnstile`, `window.hcaptcha`) for explicit rendering; every
 * widget then renders its own challenge. It fails, instead of hanging, when
 * the script cannot load (a network error, or a page CSP that does not allow
 * the provider) or takes over 30 seconds.
 *
 * Turnstile is ready when its script has run; hCaptcha only when it calls the
 * function named by `onload` (its docs warn against rendering earlier). On a
 * page that enforces Trusted Types, the script's URL goes through the
 * widget's own policy, `switchboard-callback`, which passes these two URLs
 * and nothing else (the page allows it with `trusted-types switchboard-callback`).
 *
 * Written without template literals: this text sits inside one.
 */
export const BOT_CHECK_JS = String.raw`
const CHALLENGES = {
  turnstile: "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit",
  hcaptcha: "https://js.hcaptcha.com/1/api.js?render=explicit&recaptchacompat=off&onload=switchboardHcaptchaLoaded"
}
const challengeLoads = {}
let challengePolicy
const challengeUrl = (url) => {
  if (!window.trustedTypes) return url
  try {
    challengePolicy = challengePolicy || window.trustedTypes.createPolicy("switchboard-callback", {
      createScriptURL: (value) => { for (const name in CHALLENGES) if (CHALLENGES[name] === value) return value; throw new TypeError("not a bot check script: " + value) }
    })
  } catch {
    return url // a page that does not allow the policy: fine unless it enforces Trusted Types
  }
  return challengePolicy.createScriptURL(url)
}
const loadChallenge = (provider) => challengeLoads[provider] || (challengeLoads[provider] = new Promise((resolve, reject) => {
  const api = () => (window[provider] && window[provider].render ? window[provider] : undefined)
  if (api()) return resolve(api())
  if (!CHALLENGES[provider]) throw new Error("unknown provider " + provider)
  const ready = () => (api() ? resolve(api()) : reject(new Error("its script did not start")))
  const script = document.createElement("script")
  script.async = true
  script.onerror = () => reject(new Error("its script did not load"))
  if (provider === "hcaptcha") window.switchboardHcaptchaLoaded = ready
  else script.onload = ready
  setTimeout(() => reject(new Error("its script took too long")), 30000)
  script.src = challengeUrl(CHALLENGES[provider])
  const parent = document.head || document.documentElement
  parent.append(script)
}))
`
