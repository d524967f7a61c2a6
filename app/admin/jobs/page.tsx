import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { currentUser } from '@/lib/auth/guard';
import { hasRole } from '@/lib/auth/users';
import { FindJobs, type FilterFields } from './find-jobs';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'Find jobs · Conveyor' };

const FIELDS = ['id', 'type', 'status', 'from', 'to', 'error', 'payload'] as const;

/** Every signed-in role searches; MANAGER and ADMIN retry and cancel single jobs; only ADMIN acts on every match at once. */
export default async function FindJobsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const cookieStore = await cookies();
  const user = await currentUser(cookieStore.toString());
  const params = await searchParams;
  const initial: FilterFields = {};
  for (const field of FIELDS) {
    const value = params[field];
    if (typeof value === 'string' && value !== '') initial[field] = value;
  }
  if (!user) redirect(`/login?next=${encodeURIComponent(`/admin/jobs?${new URLSearchParams(initial as Record<string, string>)}`)}`);
  return <FindJobs email={user.email} initial={initial} canAct={hasRole(user.role, 'MANAGER')} canBulk={hasRole(user.role, 'ADMIN')} />;
}
