package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class TwentiethFixReviewLinearTest
{
    @Test
    void zeroingRollbackDropsInnerMarksKeepsOuterAndZeroes()
    {
        try (Lake lake = Lake.builder(4096).zeroing(true).build())
        {
            lake.allocate(8);
            lake.mark();
            final LakeSnapshot before = lake.snapshot();
            final long gen = lake.generation();
            try (Sandbox s = lake.sandbox())
            {
                lake.mark(); // at the start, before the first allocation
                final int at = lake.allocate(64);
                lake.buffer().setMemory(at, 64, (byte)7);
                lake.mark();
                final LakeSnapshot inside = lake.snapshot();
                lake.allocate(16);
                s.rollback();
                assertThrows(StaleHandleException.class, () -> lake.rewind(inside));
                for (int i = 0; i < 64; i++)
                {
                    assertEquals(0, lake.buffer().getByte(at + i));
                }
            }
            assertEquals(1, lake.markDepth());
            assertEquals(8, lake.position());
            assertEquals(0, lake.openSandboxes());
            assertEquals(gen + 1, lake.generation());
            lake.allocate(32);
            lake.rewind(before);
            assertEquals(8, lake.position());
            lake.resetToMark();
            assertEquals(8, lake.position());
            assertEquals(0, lake.markDepth());
        }
    }

    @Test
    void tokensNestedRollbacksAndTheFloorAfter()
    {
        try (Lake lake = Lake.of(4096))
        {
            final long t1 = lake.beginSandbox();
            lake.allocate(16);
            final long t2 = lake.beginSandbox();
            final Droplet d = lake.droplet(32);
            lake.commitSandbox(t2);
            lake.allocate(8);
            final int atT3 = lake.position();
            final long t3 = lake.beginSandbox();
            lake.mark();
            lake.allocate(8);
            lake.endSandbox(t3);
            assertEquals(atT3, lake.position());
            assertEquals(0, lake.markDepth());
            assertTrue(d.isValid());
            lake.endSandbox(t1);
            assertEquals(0, lake.position());
            assertFalse(d.isValid());
            assertEquals(0, lake.openSandboxes());
            // the floor is exact enough: a droplet and a rewind below it still invalidate
            lake.mark();
            final Droplet e = lake.droplet(8);
            lake.resetToMark();
            assertFalse(e.isValid());
        }
    }

    @Test
    void endSandboxesRollsBackInnermostFirst()
    {
        try (Lake lake = Lake.builder(4096).zeroing(true).build())
        {
            final Sandbox a = lake.sandbox();
            lake.allocate(8);
            lake.mark();
            final Sandbox b = lake.sandbox();
            lake.allocate(8);
            lake.mark();
            lake.endSandboxes(0);
            assertFalse(a.isOpen());
            assertFalse(b.isOpen());
            assertEquals(0, lake.markDepth());
            assertEquals(0, lake.position());
            a.close();
            b.close();
        }
    }

    @Test
    void vectorsPushGrowPopAndFinish()
    {
        try (Arena arena = Arena.builder().build())
        {
            final ArenaVec.OfLong v = ArenaVec.ofLongs(arena);
            for (int i = 0; i < 5000; i++)
            {
                v.push(i);
                if (i % 100 == 0)
                {
                    arena.allocate(8); // the clock moves: the push goes the slow way
                }
            }
            assertEquals(5000, v.size());
            assertEquals(4999, v.pop());
            assertEquals(4999, v.size());
            v.addAll(new long[] {7, 8, 9}, 1, 2);
            assertEquals(5001, v.size());
            assertEquals(9, v.get(5000));
            final ArenaView.OfLong view = v.finish();
            assertTrue(v.isFinished());
            assertEquals(5001, view.size());
            assertEquals(0, view.get(0));
            assertEquals(8, view.get(4999));
            assertThrows(StaleHandleException.class, () -> v.push(1));
            assertThrows(StaleHandleException.class, v::finish);

            final ArenaVec.OfRecord r = ArenaVec.ofRecords(arena, 12);
            for (int i = 0; i < 100; i++)
            {
                assertEquals(i, r.pushZeroed());
                r.buffer().putInt(r.offsetOf(i), i + 1);
            }
            r.pop();
            assertEquals(99, r.size());
            assertEquals(99, r.pushZeroed());
            assertEquals(0, r.buffer().getInt(r.offsetOf(99)));
            final ArenaView.OfRecord rv = r.finish();
            assertEquals(100, rv.size());
            assertEquals(5, rv.buffer().getInt(rv.offsetOf(4)));

            final ArenaVec.OfInt empty = ArenaVec.ofInts(arena);
            final ArenaView.OfInt ev = empty.finish();
            assertEquals(0, ev.size());
            assertTrue(empty.isFinished());
        }
    }

    @Test
    void copiesKeepAlignmentAndContents()
    {
        try (Arena arena = Arena.builder().build())
        {
            arena.allocate(3, 1);
            final long[] longs = {1, -2, Long.MAX_VALUE};
            final long ref = arena.copyOf(longs);
            assertEquals(0, (arena.buffer(ref).addressOffset() + Arena.offset(ref)) & 7);
            for (int i = 0; i < 3; i++)
            {
                assertEquals(longs[i], arena.buffer(ref).getLong(Arena.offset(ref) + i * 8, java.nio.ByteOrder.nativeOrder()));
            }
            arena.allocate(1, 1);
            final long z = arena.allocateZeroed(40, 32);
            assertEquals(0, (arena.buffer(z).addressOffset() + Arena.offset(z)) & 31);
            final byte[] bytes = {1, 2, 3, 4, 5};
            final long b = arena.copyOf(bytes, 1, 3);
            assertEquals(2, arena.buffer(b).getByte(Arena.offset(b)));
            assertEquals(4, arena.buffer(b).getByte(Arena.offset(b) + 2));
            final int[] ints = new int[10000];
            for (int i = 0; i < ints.length; i++)
            {
                ints[i] = i * 3;
            }
            final long big = arena.copyOf(ints); // a new block
            assertEquals(9999 * 3, arena.buffer(big).getInt(Arena.offset(big) + 9999 * 4, java.nio.ByteOrder.nativeOrder()));
        }
    }
}
