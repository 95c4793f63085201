// The console's entry: the sign-in gate, the shell (header, navigation, main) and the pages.
// Pages other than the inbox and runs are loaded when first visited, so the first load stays small.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { preload, storedSession } from './api.ts';
import { App } from './app.tsx';
import { runsRequest } from './pages/runs-page.tsx';
import './styles.css';

// A reload of the runs list asks for its page now, while React renders (the page picks it up).
const kept = storedSession();
if (kept && location.pathname === '/runs') preload(kept.token, runsRequest(location.search));

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
