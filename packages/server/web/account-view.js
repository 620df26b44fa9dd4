// The account view (signed in): the account's address and whether it is
// verified, and the change-password form. Its devices list is devices-list.js.
import { api, ApiError } from '/account/session.js'
import { currentAccount, handleFailure, loadAccount, showSignedOut } from '/account/account.js'
import { loadDevices } from '/account/devices-list.js'
import { busy, submitForm } from '/account/forms.js'
import { $, alertError, clearMessages, explain, say, show } from '/account/page.js'

/** Shows the account view for the signed-in account; a session that has ended shows the sign-in view instead. */
export async function showSignedIn() {
  let me
  try {
    me = await loadAccount()
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showSignedOut('Your session has ended. Sign in again.')
    alertError(explain(err))
    return
  }
  show('view-signed-in')
  $('account-email').textContent = me.email
  $('topbar-email').textContent = me.email
  const username = /** @type {HTMLInputElement} */ ($('password-username'))
  username.value = me.email
  const badge = $('email-badge')
  badge.textContent = me.email_verified ? 'Verified' : 'Not verified'
  badge.className = me.email_verified ? 'badge badge-ok' : 'badge badge-warn'
  $('verify-row').hidden = me.email_verified
  await loadDevices()
}

/** Changes the password; the server signs out every other device, so the list is fetched again. */
export async function changePassword(event) {
  await submitForm(event, async (values) => {
    try {
      await api('/auth/password', { method: 'POST', body: { current_password: values.current_password, new_password: values.new_password } })
      say('Password changed. Your other devices were signed out.')
      await loadDevices()
    } catch (err) {
      handleFailure(err)
    }
  })
}

/** Mails a verification link to the account's address. */
export async function sendVerification(event) {
  clearMessages()
  await busy(event.currentTarget, async () => {
    try {
      await api('/auth/email-verification', { method: 'POST' })
      say(`We sent a verification link to ${currentAccount()?.email ?? 'your email'}.`)
    } catch (err) {
      handleFailure(err)
    }
  })
}
