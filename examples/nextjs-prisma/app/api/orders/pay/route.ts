import { z } from 'zod';
import { payOrder } from '@/lib/orders';

const body = z.object({ orderId: z.string().min(1) });

/** POST { orderId }: who may call it is the app's business; this example leaves it open. */
export async function POST(request: Request) {
  const parsed = body.safeParse(await request.json().catch(() => null));
  if (!parsed.success) return Response.json({ error: parsed.error.issues }, { status: 400 });
  return Response.json(await payOrder(parsed.data.orderId), { status: 202 });
}
