// How a held action's approval is explained to whoever is waiting on it (an MCP client, an app
// behind the LLM gateway): who may decide, and the command they can paste. One wording for every
// adapter that holds.
import type { Approval } from '@aifactory/execution';

/** A command an approver can paste: the approval's first role, the approver's own login name. */
export function approveHint(approvalId: string, approval: Pick<Approval, 'requirement'> | undefined): string {
  const role = approval?.requirement.roles[0];
  return `factory approvals approve ${approvalId} --as "$USER"${role ? ` --role ${role}` : ''}`;
}

/** Who may approve a held action, in one clause. */
export function whoMayApprove(approval: Pick<Approval, 'requirement' | 'requestedBy'> | undefined): string {
  if (!approval) return 'An approver';
  const { roles, count, separation_of_duties: separation } = approval.requirement;
  const who =
    roles.length > 0
      ? `${count > 1 ? `${count} approvers` : 'An approver'} with role ${roles.join(' or ')}`
      : count > 1
        ? `${count} approvers`
        : 'An approver';
  return separation ? `${who} other than ${approval.requestedBy}` : who;
}
