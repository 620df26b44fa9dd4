// The Tessera account page: views and actions. No framework, no build step.
// Tokens, refresh and HTTP live in session.js.
import { accessToken, adopt, announceSignOut, api, ApiError, forget, onSessionChange, refresh, send } from '/account/session.js'
import { busy, formValues, valid } from '/account/forms.js'
import { $, alertError, clearMessages, explain, say, show } from '/account/page.js'

/** @type {{ email: string, email_verified: boolean } | null} */
let me = null

function showSignedOut(message) {
  forget()
  me = null
  show('view-signed-out')
  if (message) say(message)
}

async function showSignedIn() {
  try {
    me = await api('/auth/me')
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

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })

function relative(iso) {
  const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000)
  const abs = Math.abs(seconds)
  if (abs < 45) return 'just now'
  if (abs < 3600) return relativeFormat.format(Math.round(seconds / 60), 'minute')
  if (abs < 86_400) return relativeFormat.format(Math.round(seconds / 3600), 'hour')
  if (abs < 30 * 86_400) return relativeFormat.format(Math.round(seconds / 86_400), 'day')
  return dateFormat.format(new Date(iso))
}

function setTime(el, iso) {
  el.dateTime = iso
  el.textContent = relative(iso)
  el.title = dateFormat.format(new Date(iso))
}

function deviceKind(session) {
  const text = `${session.os} ${session.user_agent}`.toLowerCase()
  if (/android|iphone|ios|mobile/.test(text)) return 'phone'
  if (/ipad|tablet/.test(text)) return 'tablet'
  return 'computer'
}

function renderDevice(session) {
  const template = /** @type {HTMLTemplateElement} */ ($('device-template'))
  const item = /** @type {HTMLElement} */ (template.content.firstElementChild.cloneNode(true))
  const client = [session.browser, session.os].filter(Boolean).join(' on ')
  const fallback = session.user_agent || 'Unknown browser'
  item.dataset.sessionId = session.session_id
  item.querySelector('.device-icon').classList.add(`device-icon-${deviceKind(session)}`)
  // textContent only: names and user agents come from users and must never become markup.
  item.querySelector('.device-title').textContent = session.device_name || client || 'Unnamed device'
  item.querySelector('.device-client').textContent = client || fallback
  item.querySelector('.device-ip').textContent = session.ip || 'unknown'
  setTime(item.querySelector('.device-created'), session.created_at)
  setTime(item.querySelector('.device-seen'), session.last_seen_at)
  // DPoP-bound: the session's tokens work only with proofs of a key that stays in that browser.
  item.querySelector('.badge-bound').hidden = !session.dpop_bound
  const button = /** @type {HTMLButtonElement} */ (item.querySelector('.device-sign-out'))
  if (session.current) {
    item.classList.add('device-current')
    item.querySelector('.badge-current').hidden = false
    button.textContent = 'Sign out'
    button.setAttribute('aria-label', 'Sign out of this device')
    button.addEventListener('click', () => void signOut())
  } else {
    button.setAttribute('aria-label', `Sign out ${session.device_name || client || 'this device'}`)
    button.addEventListener('click', () => void signOutDevice(session, item, button))
  }
  return item
}

async function loadDevices() {
  const list = $('devices')
  list.setAttribute('aria-busy', 'true')
  try {
    const { sessions } = await api('/auth/sessions')
    // The current device first, then newest first as the server sends them.
    sessions.sort((a, b) => Number(b.current) - Number(a.current))
    list.replaceChildren(...sessions.map(renderDevice))
    $('devices-foot').hidden = sessions.length < 2
  } catch (err) {
    handleFailure(err)
  } finally {
    list.removeAttribute('aria-busy')
  }
}

/** Shared failure path: a lost session goes to the sign-in view, anything else is shown. */
function handleFailure(err) {
  if (err instanceof ApiError && err.status === 401) {
    showSignedOut('This device was signed out. Sign in again to continue.')
    return
  }
  alertError(explain(err))
}

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

async function signOut() {
  clearMessages()
  try {
    const token = accessToken()
    if (token) await send('/auth/logout', { method: 'POST', bearer: token })
  } catch {
    // Already over on the server: the outcome is the same.
  }
  announceSignOut()
  showSignedOut('You are signed out.')
}

async function signOutDevice(session, item, button) {
  clearMessages()
  await busy(button, async () => {
    try {
      await api(`/auth/sessions/${encodeURIComponent(session.session_id)}`, { method: 'DELETE' })
      item.remove()
      say(`Signed out ${session.device_name || [session.browser, session.os].filter(Boolean).join(' on ') || 'the device'}.`)
      $('devices-foot').hidden = $('devices').children.length < 2
    } catch (err) {
      if (err instanceof ApiError && err.code === 'ERR_SESSION_NOT_FOUND') {
        item.remove()
        say('That device was already signed out.')
      } else handleFailure(err)
    }
  })
}

async function signOutOthers(event) {
  clearMessages()
  await busy(event.currentTarget, async () => {
    try {
      await api('/auth/logout-all', { method: 'POST', body: { except_current: true } })
      say('Every other device was signed out.')
      await loadDevices()
    } catch (err) {
      handleFailure(err)
    }
  })
}

async function changePassword(event) {
  event.preventDefault()
  const form = event.currentTarget
  if (!valid(form)) return
  clearMessages()
  const values = formValues(form)
  await busy(form.querySelector('button[type=submit]'), async () => {
    try {
      await api('/auth/password', { method: 'POST', body: { current_password: values.current_password, new_password: values.new_password } })
      say('Password changed. Your other devices were signed out.')
      await loadDevices()
    } catch (err) {
      handleFailure(err)
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

async function sendVerification(event) {
  clearMessages()
  await busy(event.currentTarget, async () => {
    try {
      await api('/auth/email-verification', { method: 'POST' })
      say(`We sent a verification link to ${me?.email ?? 'your email'}.`)
    } catch (err) {
      handleFailure(err)
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
