// The Tern extension: highlighting comes from the TextMate grammar (package.json,
// contributes.grammars); everything else (diagnostics, hover, ...) from the language server
// `tern lsp`, started here over stdio with vscode-languageclient.
//
// Settings: `tern.path` (the binary, default `tern` on the PATH), `tern.trace.server`.
// When the server cannot be started, highlighting still works and a warning says why.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;
let output;

function serverCommand() {
  const configured = vscode.workspace.getConfiguration('tern').get('path');
  return typeof configured === 'string' && configured.trim() !== '' ? configured.trim() : 'tern';
}

async function startClient() {
  const command = serverCommand();
  // No `transport`: the server speaks LSP on stdin/stdout, and vscode-languageclient would
  // otherwise append `--stdio` to the arguments.
  const executable = { command, args: ['lsp'] };
  const serverOptions = { run: executable, debug: executable };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'tern' },
      { scheme: 'untitled', language: 'tern' },
    ],
    outputChannel: output,
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.tern'),
    },
  };
  client = new LanguageClient('tern', 'Tern Language Server', serverOptions, clientOptions);
  try {
    await client.start();
  } catch (err) {
    const failed = client;
    client = undefined;
    try {
      await failed.dispose();
    } catch (_) {
      // it never ran
    }
    const reason = err && err.message ? err.message : String(err);
    const choice = await vscode.window.showWarningMessage(
      `Tern: could not start the language server "${command} lsp" (${reason}). ` +
        'Highlighting still works. Set "tern.path" to the tern binary.',
      'Open Settings');
    if (choice === 'Open Settings') {
      vscode.commands.executeCommand('workbench.action.openSettings', 'tern.path');
    }
  }
}

async function stopClient() {
  if (!client) return;
  const running = client;
  client = undefined;
  try {
    await running.stop();
  } catch (_) {
    // already gone
  }
}

async function restartClient() {
  await stopClient();
  await startClient();
}

async function activate(context) {
  output = vscode.window.createOutputChannel('Tern Language Server');
  context.subscriptions.push(output);
  context.subscriptions.push(
    vscode.commands.registerCommand('tern.restartServer', restartClient),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('tern.path')) restartClient();
    }));
  await startClient();
}

function deactivate() {
  return stopClient();
}

module.exports = { activate, deactivate };
