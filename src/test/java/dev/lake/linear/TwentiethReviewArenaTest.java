package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import dev.lake.testing.StackLadder;
import dev.lake.testing.StackLadder.Scenario;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Twentieth review of the growable arena (hostile review: Arena, ArenaVec, ArenaView, Checkpoint, Transaction,
 * budgets, cleanup actions).
 *
 * <p>Findings (fail on 5d45d9b, JDK 17): {@code ArenaVec} moves its size before it writes the elements it appends, and
 * marks itself finished before it has a view to return. A call cut short by a {@code StackOverflowError} between the
 * two (the ladder of {@code FifteenthReviewArenaTest}: a child JVM in interpreted mode, where every call is a point at
 * which the error can be thrown) leaves
 * <ul>
 *   <li>{@code addAll(long[])} (and every {@code appendRange} caller: the array and buffer {@code addAll}s of every
 *   element type), {@code OfRecord.push(src, index)} and {@code OfRecord.pushZeroed()} with elements counted that were
 *   never written: they read whatever the arena's memory held before, here another allocation's bytes given back by a
 *   reset (0x77...); the retry a program makes after the error appends again, so the vector silently holds the stale
 *   elements in the middle;</li>
 *   <li>{@code finish()} with the vector dead and no view: a retried {@code finish()} throws StaleHandleException
 *   ("use the view finish() returned"), and the elements are reachable through no checked handle.</li>
 * </ul>
 * The invariant is the fifteenth round's: state a call changes before one of its calls is consistent whatever that
 * call throws, checked after the retry a program that caught the error would make.
 *
 * <p>The same root cause without a stack overflow, deterministically: a DirectBuffer of a type Lake does not know whose
 * copy the JDK refuses (Unsafe.copyMemory: IllegalArgumentException for its offset) makes {@code addAll(DirectBuffer..)}
 * and {@code OfRecord.push(src, i)} throw with elements counted that were never written (stale bytes of another
 * allocation), and {@code Arena.copyOf(DirectBuffer..)} throw with its bytes kept, unreachable and charged to the
 * transaction's budget. The other tests here held (see each).
 */
class TwentiethReviewArenaTest
{
    private static void assertClean(final String scenario) throws Exception
    {
        StackLadder.assertClean(StackProbe.class, scenario);
    }

    /**
     * A DirectBuffer of a type Lake does not know (here a proxy) whose {@code addressOffset()} the JDK's copy refuses
     * ({@code Unsafe.copyMemory} throws IllegalArgumentException for a negative offset into a heap array): its range
     * check passes (capacity 64), so the refusal comes from the copy itself, after the arena or the vector has moved.
     */
    private static DirectBuffer refusedByTheCopy()
    {
        return (DirectBuffer)Proxy.newProxyInstance(TwentiethReviewArenaTest.class.getClassLoader(),
            new Class<?>[] {DirectBuffer.class}, (proxy, method, args) -> switch (method.getName())
            {
                case "capacity" -> 64;
                case "byteArray" -> new byte[64];
                case "addressOffset" -> -1000L;
                case "toString" -> "refusedByTheCopy";
                default -> throw new UnsupportedOperationException(method.getName());
            });
    }

    /** An arena whose first 1,024 bytes held another allocation's 0x77 bytes, given back by a reset. */
    private static Arena dirtyArena()
    {
        final Arena arena = Arena.withCapacity(4096);
        final long dirty = arena.allocate(1024, 8);
        arena.buffer(dirty).setMemory(Arena.offset(dirty), 1024, (byte)0x77);
        arena.reset();
        return arena;
    }

    /**
     * Finding, deterministic (no stack overflow needed), the same root cause as the ladder findings: appendFrom asks
     * the source for its array and offset, then {@code Memory.copy(array, from, appendRange(count), bytes)}, and
     * appendRange moves the size before the copy runs. A copy the JDK refuses throws IllegalArgumentException with the
     * three elements counted: the vector now holds [1, 0x7777777777777777 x 3], another allocation's stale bytes.
     * Javadoc of addAll(DirectBuffer, int, int): refusals change nothing ("IndexOutOfBoundsException if the bytes are
     * outside src (nothing changes)", "BudgetExceededException ... (nothing changes)"); ArenaVec's contract is that it
     * holds the values appended.
     */
    @Test
    void anAddAllFromABufferWhoseCopyFailsAppendsNothing()
    {
        try (Arena arena = dirtyArena())
        {
            final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 16);
            vec.push(1);
            assertThrows(IllegalArgumentException.class, () -> vec.addAll(refusedByTheCopy(), 0, 3));
            assertArrayEquals(new long[] {1}, vec.toArray(), "the refused addAll appended elements it never wrote");
        }
    }

    /** Finding, the same for a record pushed from such a buffer ({@code Memory.copy(.., claim(bytes), ..)}). */
    @Test
    void aRecordPushFromABufferWhoseCopyFailsAppendsNothing()
    {
        try (Arena arena = dirtyArena())
        {
            final ArenaVec.OfRecord vec = ArenaVec.ofRecords(arena, 16, 8);
            assertThrows(IllegalArgumentException.class, () -> vec.push(refusedByTheCopy(), 0));
            assertEquals(0, vec.size(), "the refused push counted a record of stale bytes (first byte " +
                (vec.size() > 0 ? vec.buffer().getByte(vec.offsetOf(0)) : 0) + ")");
        }
    }

    /**
     * Finding, the Arena side: {@code copyOf(DirectBuffer, index, length)} allocates, then copies; a copy the JDK
     * refuses throws with the bytes kept, unreachable (the reference was never returned) and charged to the
     * transaction's budget, so the next allocation that fits once they are given back is refused. The copies that run
     * caller code between allocation and write undo the allocation when they fail (place, copyOfUtf8, copyOfAscii:
     * docs/arena.md, "the allocation is taken back"); Arena#copyOf(DirectBuffer..): "IndexOutOfBoundsException if the
     * range is outside src (nothing allocated)".
     */
    @Test
    void aCopyFromABufferWhoseCopyFailsKeepsNoBytes()
    {
        try (Arena arena = new Arena())
        {
            final Transaction tx = arena.transaction();
            tx.setLimit(64);
            final long before = arena.bytesAllocated();
            assertThrows(IllegalArgumentException.class, () -> tx.copyOf(refusedByTheCopy(), 0, 48));
            assertEquals(before, arena.bytesAllocated(), "the failed copy kept its bytes");
            tx.allocate(64, 8); // fits the budget once the failed copy is given back
            tx.close();
        }
    }

    /**
     * Held (passes). {@code ArenaVec.grow} stores the new storage's buffer and block before it calls
     * {@code Arena.offset(ref)} and {@code arena.blockAddress(..)} for the start and the address; cut short between
     * them the vector would read and write through {@code buffer}/{@code start} in one place and push through
     * {@code address} in another. The ladder never reaches that window: every call after the first store is shallower
     * than the allocation before it (the JIT inlines them anyway). Kept as a guard.
     */
    @Test
    void aGrowthCutShortNeverLeavesTheVectorReadingAndWritingDifferentStorage() throws Exception
    {
        assertClean("vec-grow");
    }

    /**
     * Finding. {@code ArenaVec.finishStorage()} sets {@code finished} and then calls {@code storageEnd()},
     * {@code arena.shrinkLast(..)}, and {@code finish()} then the view's constructor: cut short there (48 of 192 attempts),
     * the vector is dead (a retried finish() throws StaleHandleException, "use the view finish() returned") and no view
     * was returned, so its elements are reachable through no checked handle. docs/arena.md: finish() "hands the
     * elements to the arena ... and returns an ArenaView"; Lake's sibling (droplet(), split(), process() refused with no
     * handle to give the bytes back) was fixed in the eighth round.
     */
    @Test
    void aFinishCutShortEitherReturnsAViewOrLeavesTheVectorUsable() throws Exception
    {
        assertClean("vec-finish");
    }

    /**
     * Finding (minor, the Arena side of the same pattern): {@code allocateZeroed} allocates and then fills
     * ({@code Memory.fill}, a deeper call than the allocation): cut short there, the bytes stay allocated, never
     * returned and charged to the budget, so the retry is refused with BudgetExceededException although the budget had
     * room for the one allocation asked for. (copyOf(long[]/int[]/double[]) and copyOf(byte[]) have the same shape.)
     */
    @Test
    void anAllocateZeroedCutShortKeepsNoBytes() throws Exception
    {
        assertClean("allocate-zeroed");
    }

    /**
     * Finding (minor, same pattern in reverse): {@code OfLong.pop()} is {@code buffer.getLong(popIndex())}, and popIndex
     * lowers the size before the read (Agrona's getLong, with its bounds check, is the deeper call): cut short there,
     * the element is removed but its value never returned, and the retry pops the one below it. Javadoc: "Removes and
     * returns the last value".
     */
    @Test
    void aPopCutShortNeverRemovesAnElementItDidNotReturn() throws Exception
    {
        assertClean("vec-pop");
    }

    /**
     * Finding. {@code OfRecord.pushZeroed()} is {@code Memory.fill(claim(bytes), ..)}: claim() moves the size, then the
     * fill (a deeper call) is cut short: a record of the arena's stale bytes (0x77 here) is counted, and the retry
     * appends the zeroed one after it (192 of 360 attempts). Javadoc: "Appends a record of zero bytes".
     */
    @Test
    void aRecordPushZeroedCutShortNeverCountsARecordItDidNotZero() throws Exception
    {
        assertClean("record-push-zeroed");
    }

    /**
     * Finding. {@code OfRecord.push(src, index)} is {@code Memory.copy(.., claim(bytes), ..)}: the same window (216 of
     * 384 attempts). Javadoc: "Appends a copy of elementSize() bytes of src".
     */
    @Test
    void aRecordPushCutShortNeverCountsARecordItDidNotCopy() throws Exception
    {
        assertClean("record-push");
    }

    /**
     * Finding. {@code OfLong.addAll(long[])} is {@code Memory.copy(src, .., appendRange(length))} and appendRange moves
     * the size by {@code length} before the copy runs: cut short in the copy, three elements of stale bytes
     * (8608480567731124087 = 0x7777777777777777, another allocation's, given back by a reset) are counted, and the
     * retry appends after them: [1, 2, 0x77.., 0x77.., 0x77.., 10, 11, 12] (216 of 408 attempts). Javadoc: "Appends
     * every value of src (one reservation, then a copy)".
     */
    @Test
    void anAddAllCutShortNeverCountsElementsItDidNotCopy() throws Exception
    {
        assertClean("long-add-all");
    }

    /**
     * Held (passes, with the three below): withTransaction / withTransactionInfallible cut short anywhere leave no
     * transaction open that nobody holds (the local handle is the only one; reset() would be refused for good).
     */
    @Test
    void withTransactionCutShortLeavesNoTransactionOpenThatNobodyHolds() throws Exception
    {
        assertClean("with-tx");
    }

    @Test
    void withTransactionAllocatingCutShortLeavesNoTransactionOpenThatNobodyHolds() throws Exception
    {
        assertClean("with-tx-alloc");
    }

    @Test
    void withTransactionInfallibleCutShortLeavesNoTransactionOpenThatNobodyHolds() throws Exception
    {
        assertClean("with-infallible");
    }

    @Test
    void withTransactionInfallibleAllocatingCutShortLeavesNoTransactionOpenThatNobodyHolds() throws Exception
    {
        assertClean("with-infallible-alloc");
    }

    // ------------------------------------------------------------------------------------------------------------
    // The probe (child JVM, -Xint)
    // ------------------------------------------------------------------------------------------------------------

    /** Runs one scenario's ladders and prints {@code probe NAME violations N cut C attempts A}. */
    static final class StackProbe
    {
        private static final int SLOTS = StackLadder.SLOTS;
        private static final int VARIANTS = 24;

        public static void main(final String[] args)
        {
            StackLadder.probe(args[0], StackProbe::scenario, VARIANTS);
        }

        private static Scenario scenario(final String name)
        {
            return switch (name)
            {
                case "vec-grow" -> new Grow();
                case "vec-finish" -> new Finish();
                case "vec-pop" -> new Pop();
                case "allocate-zeroed" -> new Zeroed();
                case "record-push-zeroed" -> new Appends(0);
                case "record-push" -> new Appends(1);
                case "long-add-all" -> new Appends(2);
                case "with-tx" -> new With(false, false);
                case "with-tx-alloc" -> new With(false, true);
                case "with-infallible" -> new With(true, false);
                case "with-infallible-alloc" -> new With(true, true);
                default -> throw new IllegalArgumentException(name);
            };
        }

        abstract static class Vectors implements Scenario
        {
            final Arena[] arenas = new Arena[SLOTS];
            final ArenaVec.OfLong[] vecs = new ArenaVec.OfLong[SLOTS];

            /**
             * A 256-byte first block: a vector of 8 longs at [0, 64) holding 1..5 (room for 3 more), then 150 raw
             * bytes, so the vector is not the last allocation and its growth (to 16 longs, 128 bytes) does not fit
             * the 42 bytes left: it moves to a new block.
             */
            @Override
            public void build(final int slot)
            {
                final Arena arena = Arena.withCapacity(256);
                arenas[slot] = arena;
                final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena, 8);
                for (int i = 1; i <= 5; i++)
                {
                    vec.push(i);
                }
                arena.allocate(150, 8);
                vecs[slot] = vec;
            }

            @Override
            public void closeAll()
            {
                for (final Arena arena : arenas)
                {
                    if (arena != null)
                    {
                        arena.close();
                    }
                }
            }
        }

        /** reserve(8) on the vector of 5 (capacity 8): a growth that moves to a new block. */
        static final class Grow extends Vectors
        {
            @Override
            public void attempt(final int slot)
            {
                vecs[slot].reserve(8);
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Arena arena = arenas[slot];
                final ArenaVec.OfLong vec = vecs[slot];
                try
                {
                    vec.reserve(8); // the retry
                    vec.push(6);
                    if (vec.get(5) != 6)
                    {
                        return "pushed 6 at index 5, get(5) reads " + vec.get(5) + " (toArray " +
                            Arrays.toString(vec.toArray()) + ")";
                    }
                    // the next allocation, and then a write through the vector: neither may reach the other
                    final long ref = arena.allocate(256, 8);
                    final UnsafeBuffer b = arena.buffer(ref);
                    b.setMemory(Arena.offset(ref), 256, (byte)0x55);
                    for (int i = 0; i < vec.size(); i++)
                    {
                        vec.set(i, -1L - i);
                    }
                    for (int i = 0; i < 256; i++)
                    {
                        if (b.getByte(Arena.offset(ref) + i) != 0x55)
                        {
                            return "vector.set() overwrote byte " + i + " of the next allocation (" +
                                Long.toHexString(ref) + ")";
                        }
                    }
                    final long[] got = vec.toArray();
                    for (int i = 0; i < vec.size(); i++)
                    {
                        if (got[i] != -1L - i || vec.get(i) != -1L - i)
                        {
                            return "element " + i + ": set " + (-1L - i) + ", get " + vec.get(i) + ", toArray " +
                                got[i];
                        }
                    }
                    return null;
                }
                catch (final RuntimeException ex)
                {
                    return "the vector failed after the retry: " + ex;
                }
            }
        }

        /** withTransaction / withTransactionInfallible with a body that returns (after a 64-byte allocation or not). */
        static final class With implements Scenario
        {
            final boolean infallible;
            final boolean allocates;
            final Arena[] arenas = new Arena[SLOTS];

            With(final boolean infallible, final boolean allocates)
            {
                this.infallible = infallible;
                this.allocates = allocates;
            }

            @Override
            public void build(final int slot)
            {
                arenas[slot] = Arena.withCapacity(4096);
                arenas[slot].allocate(64);
            }

            @Override
            public void attempt(final int slot)
            {
                final TransactionBody<Object, RuntimeException> body = tx ->
                {
                    if (allocates)
                    {
                        tx.allocate(64);
                    }
                    return null;
                };
                if (infallible)
                {
                    arenas[slot].withTransactionInfallible(body);
                }
                else
                {
                    arenas[slot].withTransaction(body);
                }
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final Arena arena = arenas[slot];
                final int depth = arena.transactionDepth();
                try
                {
                    arena.reset();
                }
                catch (final RuntimeException refused)
                {
                    return depth + " transaction(s) left open that nobody holds: reset() refused: " + refused;
                }
                return depth == 0 ? null : depth + " transaction(s) left open";
            }

            @Override
            public void closeAll()
            {
                for (final Arena arena : arenas)
                {
                    if (arena != null)
                    {
                        arena.close();
                    }
                }
            }
        }

        /**
         * Appends with room (no growth) onto arena memory that held other bytes before (0x77, given back by a reset):
         * a record pushZeroed(), a record push of 0x11 bytes, an addAll of three longs. Each appends exactly once, or
         * not at all and the check's retry does; every element then holds what was appended.
         */
        static final class Appends implements Scenario
        {
            final int kind;
            final Arena[] arenas = new Arena[SLOTS];
            final ArenaVec.OfRecord[] records = new ArenaVec.OfRecord[SLOTS];
            final ArenaVec.OfLong[] longs = new ArenaVec.OfLong[SLOTS];
            final UnsafeBuffer source = new UnsafeBuffer(new byte[16]);

            Appends(final int kind)
            {
                this.kind = kind;
                source.setMemory(0, 16, (byte)0x11);
            }

            @Override
            public void build(final int slot)
            {
                final Arena arena = Arena.withCapacity(4096);
                arenas[slot] = arena;
                final long dirty = arena.allocate(1024, 8);
                arena.buffer(dirty).setMemory(Arena.offset(dirty), 1024, (byte)0x77);
                arena.reset();
                if (kind == 2)
                {
                    longs[slot] = ArenaVec.ofLongs(arena, 16);
                    longs[slot].push(1);
                    longs[slot].push(2);
                }
                else
                {
                    records[slot] = ArenaVec.ofRecords(arena, 16, 8);
                    records[slot].push(source, 0);
                    records[slot].push(source, 0);
                }
            }

            private void append(final int slot)
            {
                if (kind == 0)
                {
                    records[slot].pushZeroed();
                }
                else if (kind == 1)
                {
                    records[slot].push(source, 0);
                }
                else
                {
                    longs[slot].addAll(new long[] {10, 11, 12});
                }
            }

            @Override
            public void attempt(final int slot)
            {
                append(slot);
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                if (wasCut)
                {
                    append(slot); // the retry: the call threw, so the program appends again
                }
                if (kind == 2)
                {
                    final long[] got = longs[slot].toArray();
                    return Arrays.equals(got, new long[] {1, 2, 10, 11, 12}) ? null :
                        "after addAll({10, 11, 12}) (retried if cut short) the vector holds " + Arrays.toString(got);
                }
                final ArenaVec.OfRecord vec = records[slot];
                if (vec.size() != 3)
                {
                    return "after one append (retried if cut short) the vector holds " + vec.size() + " records, " +
                        "not 3: " + describe(vec);
                }
                final byte want = kind == 0 ? 0 : (byte)0x11;
                for (int r = 2; r < vec.size(); r++)
                {
                    for (int i = 0; i < 16; i++)
                    {
                        if (vec.buffer().getByte(vec.offsetOf(r) + i) != want)
                        {
                            return "record " + r + " holds byte " + vec.buffer().getByte(vec.offsetOf(r) + i) +
                                " at " + i + ", not " + want + ": " + describe(vec);
                        }
                    }
                }
                return null;
            }

            private static String describe(final ArenaVec.OfRecord vec)
            {
                final StringBuilder out = new StringBuilder();
                for (int r = 0; r < vec.size(); r++)
                {
                    out.append(" [").append(r).append("] first byte ").append(vec.buffer().getByte(vec.offsetOf(r)));
                }
                return out.toString();
            }

            @Override
            public void closeAll()
            {
                for (final Arena arena : arenas)
                {
                    if (arena != null)
                    {
                        arena.close();
                    }
                }
            }
        }

        /** pop() of the vector of 5: it returns 5 (retried if cut short) and leaves 1..4. */
        static final class Pop extends Vectors
        {
            final long[] popped = new long[SLOTS];

            @Override
            public void attempt(final int slot)
            {
                popped[slot] = vecs[slot].pop();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                final long got = wasCut ? vecs[slot].pop() : popped[slot];
                final long[] left = vecs[slot].toArray();
                return got == 5 && Arrays.equals(left, new long[] {1, 2, 3, 4}) ? null :
                    "pop() (retried if cut short) returned " + got + " and left " + Arrays.toString(left) +
                    ": the last element was removed by the call that threw, its value never returned";
            }
        }

        /** allocateZeroed(100, 8) in a transaction with a 128-byte budget, over 64 bytes allocated before it. */
        static final class Zeroed implements Scenario
        {
            final Arena[] arenas = new Arena[SLOTS];
            final Transaction[] txs = new Transaction[SLOTS];

            @Override
            public void build(final int slot)
            {
                arenas[slot] = Arena.withCapacity(4096);
                arenas[slot].allocate(64, 8);
                txs[slot] = arenas[slot].transaction();
                txs[slot].setLimit(128);
            }

            @Override
            public void attempt(final int slot)
            {
                txs[slot].allocateZeroed(100, 8);
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                if (wasCut)
                {
                    try
                    {
                        txs[slot].allocateZeroed(100, 8); // the retry
                    }
                    catch (final BudgetExceededException ex)
                    {
                        return "the retry is refused by the budget: the call cut short kept its 100 bytes (" +
                            arenas[slot].bytesAllocated() + " allocated = the 64 before it + 100 never returned)";
                    }
                }
                final long used = arenas[slot].bytesAllocated();
                return used == 164 ? null : used + " bytes allocated, not 164";
            }

            @Override
            public void closeAll()
            {
                for (final Arena arena : arenas)
                {
                    if (arena != null)
                    {
                        arena.close();
                    }
                }
            }
        }

        /** finish() of the vector of 5. */
        static final class Finish extends Vectors
        {
            final ArenaView.OfLong[] views = new ArenaView.OfLong[SLOTS];

            @Override
            public void attempt(final int slot)
            {
                views[slot] = vecs[slot].finish();
            }

            @Override
            public String check(final int slot, final boolean wasCut)
            {
                ArenaView.OfLong view = views[slot];
                if (view == null)
                {
                    try
                    {
                        view = vecs[slot].finish(); // the retry
                    }
                    catch (final StaleHandleException ex)
                    {
                        return "finish() cut short left the vector finished (" + vecs[slot] + ") and returned no " +
                            "view: its 5 elements are unreachable (" + ex.getMessage() + ")";
                    }
                }
                final long[] got = view.toArray();
                return Arrays.equals(got, new long[] {1, 2, 3, 4, 5}) ? null : "the view holds " + Arrays.toString(got);
            }
        }
    }
}
