package dev.lake.reliability;

import dev.lake.memory.NativeMemory;
import dev.lake.memory.StaleHandleException;
import dev.lake.pool.ArenaFullException;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.BuddyArenaMetrics;
import dev.lake.testing.ModelCheck;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static dev.lake.testing.ModelCheck.between;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Model-based test of {@link BuddyArena} (handle tier, single-threaded: the races are jcstress's job): random
 * sequences of allocations of any size (full-arena refusals included), writes, freezes, retains and releases
 * (twice too), checked after every step against a list of live blocks: no two live blocks overlap, every block is
 * the power of two its request rounds to, aligned on its size (the buddy invariant), every byte written is intact,
 * the metrics count exactly the live blocks and bytes, a released handle is dead, and after everything is released
 * the arena is one free block again. Sequences per run: {@link ModelTries}.
 */
class BuddyArenaModelTest
{
    private static final int TOTAL = 4096;
    // 256 minimum blocks: enough for BuddyArena to number slots apart from leaves (its swap is the identity below)
    private static final int MIN_BLOCK = 16;

    @Test
    void everyOperationSequenceMatchesTheModel()
    {
        final long baseline = NativeMemory.reservedBytes();
        final int tries = ModelTries.tries();
        final long steps = ModelCheck.run("BuddyArena", tries, 60, World::new, menu());
        ModelTries.report("BuddyArenaModelTest", tries, steps);
        assertEquals(baseline, NativeMemory.reservedBytes(), "the region is freed by close");
    }

    private static ModelCheck.Menu<World> menu()
    {
        return new ModelCheck.Menu<World>()
            .add(5, r ->
            {
                final int size = r.nextInt(8) == 0 ? between(r, 1, TOTAL) : between(r, 1, 600);
                return step("allocateHandle(" + size + ")", w -> w.allocate(size));
            })
            .add(4, r ->
            {
                final int b = pick(r);
                return step("release block " + b, w -> w.release(b));
            })
            .add(1, r ->
            {
                final int b = pick(r);
                return step("release block " + b + " twice", w -> w.releaseTwice(b));
            })
            .add(2, r ->
            {
                final int b = pick(r);
                return step("freeze block " + b, w -> w.freeze(b));
            })
            .add(2, r ->
            {
                final int b = pick(r);
                return step("retain block " + b, w -> w.retain(b));
            });
    }

    private static int pick(final SplittableRandom r)
    {
        return between(r, 0, 15);
    }

    private static ModelCheck.Step<World> step(final String description, final ModelCheck.Body<World> body)
    {
        return ModelCheck.step(description, body, World::verify);
    }

    /** The arena beside a list of what should be live. */
    static final class World implements AutoCloseable
    {
        final BuddyArena arena = BuddyArena.builder(TOTAL, MIN_BLOCK).leakDetection(false).build();
        final List<Block> live = new ArrayList<>();
        final List<Long> dead = new ArrayList<>();
        private byte nextPattern = 1;

        /** One live allocation: handle, requested size, pattern written, references held, frozen or not. */
        static final class Block
        {
            final long handle;
            final int size;
            final byte pattern;
            int references = 1;
            boolean frozen;

            Block(final long handle, final int size, final byte pattern)
            {
                this.handle = handle;
                this.size = size;
                this.pattern = pattern;
            }
        }

        void allocate(final int size)
        {
            final int block = arena.blockSizeFor(size);
            final long handle;
            try
            {
                handle = arena.allocateHandle(size);
            }
            catch (final ArenaFullException full)
            {
                assertFalse(fits(block), "refused " + size + " B although a free " + block + " B block exists");
                return;
            }
            assertTrue(block >= size && Integer.bitCount(block) == 1 && block >= MIN_BLOCK, "block " + block);
            assertEquals(block, arena.handleCapacity(handle));
            final byte pattern = nextPattern++;
            for (int i = 0; i < size; i++)
            {
                arena.putByte(handle, i, (byte)(pattern + i));
            }
            live.add(new Block(handle, size, pattern));
        }

        /** Whether the model says a free, aligned block of this size exists (the buddy arena must then find it). */
        private boolean fits(final int block)
        {
            for (int at = 0; at + block <= TOTAL; at += block)
            {
                boolean free = true;
                for (final Block b : live)
                {
                    final int start = arena.offset(b.handle);
                    final int end = start + arena.handleCapacity(b.handle);
                    if (start < at + block && at < end)
                    {
                        free = false;
                        break;
                    }
                }
                if (free)
                {
                    return true;
                }
            }
            return false;
        }

        void release(final int index)
        {
            if (live.isEmpty())
            {
                return;
            }
            final Block b = live.get(index % live.size());
            arena.release(b.handle);
            if (--b.references == 0)
            {
                live.remove(b);
                dead.add(b.handle);
            }
        }

        void releaseTwice(final int index)
        {
            if (live.isEmpty())
            {
                return;
            }
            final Block b = live.get(index % live.size());
            while (b.references > 0)
            {
                arena.release(b.handle);
                b.references--;
            }
            live.remove(b);
            dead.add(b.handle);
            assertThrows(StaleHandleException.class, () -> arena.release(b.handle), "double release");
        }

        void freeze(final int index)
        {
            if (live.isEmpty())
            {
                return;
            }
            final Block b = live.get(index % live.size());
            if (b.frozen)
            {
                assertThrows(IllegalStateException.class, () -> arena.freezeHandle(b.handle, b.size));
                return;
            }
            arena.freezeHandle(b.handle, b.size);
            b.frozen = true;
        }

        void retain(final int index)
        {
            if (live.isEmpty())
            {
                return;
            }
            final Block b = live.get(index % live.size());
            if (!b.frozen)
            {
                assertThrows(IllegalStateException.class, () -> arena.retain(b.handle), "retain before freeze");
                return;
            }
            arena.retain(b.handle);
            b.references++;
        }

        void verify()
        {
            long liveBytes = 0;
            for (int i = 0; i < live.size(); i++)
            {
                final Block b = live.get(i);
                final int start = arena.offset(b.handle);
                final int capacity = arena.handleCapacity(b.handle);
                assertEquals(0, start % capacity, "a buddy block is aligned on its size");
                liveBytes += capacity;
                for (int j = i + 1; j < live.size(); j++)
                {
                    final Block o = live.get(j);
                    final int os = arena.offset(o.handle);
                    assertFalse(start < os + arena.handleCapacity(o.handle) && os < start + capacity,
                        "live blocks overlap");
                }
                for (int k = 0; k < b.size; k++)
                {
                    assertEquals((byte)(b.pattern + k), arena.getByte(b.handle, k), "byte " + k + " of a live block");
                }
            }
            for (final long handle : dead)
            {
                assertFalse(arena.isLive(handle), "a released handle is dead");
            }
            final BuddyArenaMetrics m = arena.metrics();
            assertEquals(live.size(), m.liveBlocks(), "live blocks");
            assertEquals(liveBytes, m.bytesLive(), "live bytes");
            assertEquals(TOTAL - liveBytes, m.freeBytes(), "free bytes");
            if (live.isEmpty())
            {
                assertTrue(m.fullyCoalesced(), "everything released: one free block again");
            }
        }

        @Override
        public void close()
        {
            for (final Block b : live)
            {
                while (b.references-- > 0)
                {
                    arena.release(b.handle);
                }
            }
            live.clear();
            assertTrue(arena.metrics().fullyCoalesced(), "everything released: one free block again");
            arena.close();
        }
    }
}
