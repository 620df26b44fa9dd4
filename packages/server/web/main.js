// The Tessera account page: views and actions. No framework, no build step.
// Tokens, refresh and HTTP live in session.js.
import { accessToken, adopt, ApiError, onSessionChange, refresh, send } from '/account/session.js'
import { showSignedOut, signOut } from '/account/account.js'
import { changePassword, sendVerification, showSignedIn } from '/account/account-view.js'
import { loadDevices, signOutOthers } from '/account/devices-list.js'
import { busy, formValues, valid } from '/account/forms.js'
import { $, alertError, clearMessages, explain, say, show } from '/account/page.js'

// ---------------------------------------------------------------- actions

async function signIn(event) {
  event.preventDefault()
  const form = event.currentTarget
  if (!valid(form)) return
  clearMessages()
  const { email, password, device_name } = formValues(form)
  await busy(form.querySelector('button[type=submit]'), async () => {
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

async function register(event) {
  event.preventDefault()
  const form = event.currentTarget
  if (!valid(form)) return
  clearMessages()
  const { email, password } = formValues(form)
  await busy(form.querySelector('button[type=submit]'), async () => {
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

async function requestReset(event) {
  event.preventDefault()
  const form = event.currentTarget
  if (!valid(form)) return
  clearMessages()
  const { email } = formValues(form)
  await busy(form.querySelector('button[type=submit]'), async () => {
    try {
      await send('/auth/password-reset', { method: 'POST', body: { email } })
      say(`If an account exists for ${email}, a reset link is on its way. It works once.`)
    } catch (err) {
      alertError(explain(err))
    }
  })
}

async function confirmReset(event, token) {
  event.preventDefault()
  const form = event.currentTarget
  if (!valid(form)) return
  clearMessages()
  const { new_password } = formValues(form)
  await busy(form.querySelector('button[type=submit]'), async () => {
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

async function confirmVerification(token) {
  try {
    await send('/auth/email-verification/confirm', { method: 'POST', body: { token } })
    say('Your email address is verified. Thank you.')
  } catch (err) {
    if (err instanceof ApiError && err.code === 'ERR_ONE_TIME_TOKEN_INVALID') alertError('This verification link has expired or was already used.')
    else alertError(explain(err))
  }
}

// ---------------------------------------------------------------- tabs (WAI-ARIA tabs pattern)

function selectTab(id) {
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const selected = tab.id === id
    tab.setAttribute('aria-selected', String(selected))
    tab.tabIndex = selected ? 0 : -1
    $(tab.getAttribute('aria-controls')).hidden = !selected
  }
}

function onTabKey(event) {
  const tabs = [...document.querySelectorAll('[role=tab]')]
  const at = tabs.indexOf(event.currentTarget)
  const next = event.key === 'ArrowRight' ? tabs[(at + 1) % tabs.length] : event.key === 'ArrowLeft' ? tabs[(at - 1 + tabs.length) % tabs.length] : null
  if (!next) return
  event.preventDefault()
  selectTab(next.id)
  next.focus()
}

// ---------------------------------------------------------------- start

/** Reads a mailed token from the fragment once, then removes it from the address bar and history. */
function takeHashToken() {
  const params = new URLSearchParams(location.hash.slice(1))
  const reset = params.get('reset_token')
  const verify = params.get('verify_token')
  if (reset || verify) history.replaceState(null, '', location.pathname + location.search)
  return { reset, verify }
}

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

/** Handles a mailed link's token in the fragment. True when the page now shows the reset form or the dead-link notice. */
async function followMailLink() {
  const { reset, verify } = takeHashToken()
  if (reset) {
    clearMessages()
    if (!(await resetLinkAlive(reset))) {
      showDeadResetLink()
      return true
    }
    resetToken = reset
    show('view-reset')
    $('reset-password').focus()
    return true
  }
  if (verify) {
    await confirmVerification(verify)
    if (accessToken()) await showSignedIn()
  }
  return false
}

async function start() {
  onSessionChange({ signedOut: showSignedOut, signedInElsewhere: () => void showSignedIn() })
  $('form-sign-in').addEventListener('submit', (e) => void signIn(e))
  $('form-register').addEventListener('submit', (e) => void register(e))
  $('form-reset-request').addEventListener('submit', (e) => void requestReset(e))
  $('form-password').addEventListener('submit', (e) => void changePassword(e))
  $('sign-out').addEventListener('click', () => void signOut())
  $('sign-out-others').addEventListener('click', (e) => void signOutOthers(e))
  $('devices-reload').addEventListener('click', () => {
    clearMessages()
    void loadDevices()
  })
  $('verify-email').addEventListener('click', (e) => void sendVerification(e))
  for (const tab of document.querySelectorAll('[role=tab]')) {
    tab.addEventListener('click', () => selectTab(tab.id))
    tab.addEventListener('keydown', onTabKey)
  }

  $('form-reset-confirm').addEventListener('submit', (e) => void confirmReset(e, resetToken))
  // A mail link opened in a tab already on this page changes only the fragment.
  window.addEventListener('hashchange', () => void followMailLink())
  if (await followMailLink()) return

  let resumed = false
  try {
    resumed = await refresh()
  } catch {
    alertError('The service is briefly unavailable. Reload the page in a moment.')
  }
  if (resumed) await showSignedIn()
  else if (!accessToken()) show('view-signed-out')
}

void start()
