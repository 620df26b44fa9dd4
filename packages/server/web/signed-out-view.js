// The signed-out view: the sign-in and create-account tabs, and the
// "forgot your password?" form that mails a reset link.
import { adopt, send } from '/account/session.js'
import { showSignedIn } from '/account/account-view.js'
import { submitForm } from '/account/forms.js'
import { $, alertError, explain, say } from '/account/page.js'

/** Signs in with the form's email and password; the session is bound to this browser's DPoP key where it has one (session.js). */
export async function signIn(event) {
  await submitForm(event, async ({ email, password, device_name }, form) => {
    try {
      const reply = await send('/auth/login', {
        method: 'POST',
        body: { email, password, ...(device_name ? { device_name } : {}) },
        headers: { 'x-tessera-client': 'browser' },
      })
      adopt(reply)
      form.reset()
      await showSignedIn()
      $('main').focus()
    } catch (err) {
      alertError(explain(err))
    }
  })
}

/** Creates an account, then hands over to the sign-in tab with the address filled in. */
export async function register(event) {
  await submitForm(event, async ({ email, password }, form) => {
    try {
      await send('/auth/register', { method: 'POST', body: { email, password } })
      form.reset()
      selectTab('tab-sign-in')
      const emailInput = /** @type {HTMLInputElement} */ ($('sign-in-email'))
      emailInput.value = email
      $('sign-in-password').focus()
      // The server answers alike whether or not the address already had an account (it mails that owner instead).
      say('Sign in with your new password. If this address already had an account, we sent a message there instead.')
    } catch (err) {
      alertError(explain(err))
    }
  })
}

/** Asks for a reset link by mail; the server answers alike for an address with no account. */
export async function requestReset(event) {
  await submitForm(event, async ({ email }) => {
    try {
      await send('/auth/password-reset', { method: 'POST', body: { email } })
      say(`If an account exists for ${email}, a reset link is on its way. It works once.`)
    } catch (err) {
      alertError(explain(err))
    }
  })
}

// ---------------------------------------------------------------- tabs (WAI-ARIA tabs pattern)

/** Selects the tab with this id and shows its panel. */
export function selectTab(id) {
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const selected = tab.id === id
    tab.setAttribute('aria-selected', String(selected))
    tab.tabIndex = selected ? 0 : -1
    $(tab.getAttribute('aria-controls')).hidden = !selected
  }
}

/** Arrow keys move between the tabs, as the WAI-ARIA tabs pattern expects. */
export function onTabKey(event) {
  const tabs = [...document.querySelectorAll('[role=tab]')]
  const at = tabs.indexOf(event.currentTarget)
  const next = event.key === 'ArrowRight' ? tabs[(at + 1) % tabs.length] : event.key === 'ArrowLeft' ? tabs[(at - 1 + tabs.length) % tabs.length] : null
  if (!next) return
  event.preventDefault()
  selectTab(next.id)
  next.focus()
}
