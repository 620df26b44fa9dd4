// The reset view: the new-password form a mailed reset link opens. The link's
// token is checked before the form is shown, so a used or expired link offers
// the ways on instead of a form that cannot work.
import { ApiError, send } from '/account/session.js'
import { showSignedOut } from '/account/account.js'
import { submitForm } from '/account/forms.js'
import { $, alertError, clearMessages, explain, show } from '/account/page.js'
import { selectTab } from '/account/signed-out-view.js'

/** The reset token of the link being followed; it stays in memory, never in the URL. */
let resetToken = ''

/** Asks whether a mailed reset link still works, without using it. When unsure (server trouble), the form may try. */
async function resetLinkAlive(token) {
  try {
    return (await send('/auth/password-reset/check', { method: 'POST', body: { token } })).valid !== false
  } catch {
    return true
  }
}

/** A used or expired reset link: say so, and offer the ways on (a new link, or sign in) instead of a form that cannot work. */
function showDeadResetLink() {
  resetToken = ''
  showSignedOut()
  selectTab('tab-sign-in')
  $('forgot').open = true
  alertError('This reset link has expired or was already used. Request a new one below, or sign in.')
  $('reset-email').focus()
}

/** Opens a mailed reset link: the new-password form while the link works, the dead-link notice once it does not. */
export async function openResetLink(token) {
  clearMessages()
  if (!(await resetLinkAlive(token))) {
    showDeadResetLink()
    return
  }
  resetToken = token
  show('view-reset')
  $('reset-password').focus()
}

/** Sets the new password with the token of the link being followed; every session of the account ends. */
export async function confirmReset(event) {
  // Taken at submit, as before: a link opened while this request is out does not change it.
  const token = resetToken
  await submitForm(event, async ({ new_password }) => {
    try {
      await send('/auth/password-reset/confirm', { method: 'POST', body: { token, new_password } })
      resetToken = ''
      showSignedOut('Your password was changed and every device was signed out. Sign in with the new password.')
    } catch (err) {
      if (err instanceof ApiError && err.code === 'ERR_ONE_TIME_TOKEN_INVALID') showDeadResetLink()
      else alertError(explain(err))
    }
  })
}
