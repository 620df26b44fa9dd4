// The Tessera account page: wires the views to the page and picks the first
// one. No framework, no build step. Tokens, refresh and HTTP live in
// session.js; each view lives in its own module.
import { accessToken, onSessionChange, refresh } from '/account/session.js'
import { showSignedOut, signOut } from '/account/account.js'
import { changePassword, sendVerification, showSignedIn } from '/account/account-view.js'
import { loadDevices, signOutOthers } from '/account/devices-list.js'
import { followMailLink } from '/account/mail-link.js'
import { $, alertError, clearMessages, show } from '/account/page.js'
import { confirmReset } from '/account/reset-view.js'
import { onTabKey, register, requestReset, selectTab, signIn } from '/account/signed-out-view.js'

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

  $('form-reset-confirm').addEventListener('submit', (e) => void confirmReset(e))
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
