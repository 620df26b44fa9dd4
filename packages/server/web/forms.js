// Form helpers shared by the views: one submission from start to end,
// validation shown as the page's alert, a busy submit button, the form's values.
import { alertError, clearMessages } from '/account/page.js'

/**
 * Runs `work` with `button` disabled and marked busy. Afterwards the password
 * fields of the button's form are emptied, whatever the outcome, so a password
 * never stays on screen.
 */
export async function busy(button, work) {
  const form = button.form
  button.disabled = true
  button.setAttribute('aria-busy', 'true')
  try {
    await work()
  } finally {
    button.disabled = false
    button.removeAttribute('aria-busy')
    form?.querySelectorAll('input[type=password]').forEach((input) => (input.value = ''))
  }
}

/** The form's fields as an object keyed by their `name`. */
export function formValues(form) {
  return Object.fromEntries(new FormData(form).entries())
}

/** Native validation messages, shown as our alert so screen readers hear them. */
export function valid(form) {
  if (form.checkValidity()) return true
  const first = /** @type {HTMLInputElement} */ (form.querySelector(':invalid'))
  const label = form.querySelector(`label[for="${first.id}"]`)?.firstChild?.textContent?.trim() ?? 'This field'
  alertError(`${label}: ${first.validationMessage}`)
  first.focus()
  return false
}

/**
 * One form submission: stops the browser's own, shows native validation as
 * the alert, clears the page's messages, then runs `work(values, form)` with
 * the submit button busy (see {@link busy}). Failures are `work`'s to show.
 */
export async function submitForm(event, work) {
  event.preventDefault()
  const form = event.currentTarget
  if (!valid(form)) return
  clearMessages()
  const values = formValues(form)
  await busy(form.querySelector('button[type=submit]'), () => work(values, form))
}
