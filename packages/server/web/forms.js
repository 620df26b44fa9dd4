// Form helpers shared by the views: validation shown as the page's alert, a
// busy submit button, and the form's values.
import { alertError } from '/account/page.js'

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
