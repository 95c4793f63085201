// The app, loaded by boot.ts: the sign-in gate, the shell (header, navigation, main) and the pages.
// Pages other than the inbox and runs are loaded when first visited, so the first load stays small.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.tsx';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
