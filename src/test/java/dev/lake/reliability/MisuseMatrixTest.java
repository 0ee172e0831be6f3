package dev.lake.reliability;

import dev.lake.linear.Arena;
import dev.lake.linear.ArenaVec;
import dev.lake.linear.ArenaView;
import dev.lake.linear.BudgetExceededException;
import dev.lake.linear.Checkpoint;
import dev.lake.linear.Droplet;
import dev.lake.linear.Lake;
import dev.lake.linear.LakeAllocator;
import dev.lake.linear.LakeOverflowException;
import dev.lake.linear.LakeSnapshot;
import dev.lake.linear.LakeView;
import dev.lake.linear.Sandbox;
import dev.lake.linear.Transaction;
import dev.lake.memory.NativeMemory;
import dev.lake.memory.Region;
import dev.lake.memory.StaleHandleException;
import dev.lake.pool.ArenaClosedException;
import dev.lake.pool.ArenaFullException;
import dev.lake.pool.BuddyArena;
import dev.lake.pool.BuddyArenaMetrics;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;
import dev.lake.pool.RequestTooLargeException;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSingle;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.slice.SliceReader;
import dev.lake.testing.NativeAccounting;
import dev.lake.thread.ThreadLakes;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The misuse matrix: every public handle type of the allocators that exist today, and every way to misuse it
 * (after release, rewind, reset, close; double release; out of bounds; foreign checkpoint or snapshot; wrong
 * thread in strict mode; negative, zero, huge and unaligned sizes). Each named case checks, in one parameterized
 * test:
 * <ol>
 *   <li>a clear exception: exactly the documented type (not merely a subtype), with a message that names what
 *   was wrong;</li>
 *   <li>unchanged allocator state: the observable state (stats, metrics, position, depths, live handles' bytes)
 *   is equal before and after the failed call;</li>
 *   <li>an intact JVM: the next valid operation on the same allocator (or a fresh one where the misuse was about
 *   a closed one) works and reads the right bytes;</li>
 *   <li>and every native byte is returned once the scene is closed.</li>
 * </ol>
 * The same suite passes with {@code -Dagrona.disable.bounds.checks=true}: nothing here relies on Agrona's optional
 * checks, except the one case that is skipped then because it is about the raw {@link Region} buffer, the
 * primitive tier that documents its reliance on them.
 *
 * <p>Extension point: {@link #cases()} concatenates one stream per allocator (the buddy arena's three, its
 * arena, object tier and handle tier, and the slice reader's came last); a new allocator adds its stream the same
 * way. The timing and cancellation of waits stay in {@code WaitTest}: they are races, not single calls.
 */
class MisuseMatrixTest
{
    /** A prepared situation: how to read the state, the misuse, and the next valid operation. */
    static final class Scene implements AutoCloseable
    {
        final List<AutoCloseable> resources = new ArrayList<>();
        Supplier<Object> state = () -> "";
        Runnable misuse;
        Runnable next = () -> { };

        Scene own(final AutoCloseable... all)
        {
            resources.addAll(List.of(all));
            return this;
        }

        Scene state(final Supplier<Object> state)
        {
            this.state = state;
            return this;
        }

        Scene misuse(final Runnable misuse)
        {
            this.misuse = misuse;
            return this;
        }

        Scene next(final Runnable next)
        {
            this.next = next;
            return this;
        }

        @Override
        public void close() throws Exception
        {
            for (int i = resources.size() - 1; i >= 0; i--)
            {
                resources.get(i).close();
            }
        }
    }

    /** One row of the matrix. */
    record Case(String name, Class<? extends Throwable> type, String mentions, Supplier<Scene> scene)
    {
        @Override
        public String toString()
        {
            return name;
        }
    }

    private static Arguments misuse(
        final String name, final Class<? extends Throwable> type, final String mentions, final Supplier<Scene> scene)
    {
        return Arguments.of(new Case(name, type, mentions, scene));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void misuseThrowsAClearExceptionChangesNothingAndTheNextOperationWorks(final Case c) throws Exception
    {
        final NativeAccounting.Baseline baseline = NativeAccounting.Baseline.take();
        try (Scene scene = c.scene().get())
        {
            final Object before = scene.state.get();
            final Throwable thrown = assertThrows(Throwable.class, scene.misuse::run, c.name());
            assertSame(c.type(), thrown.getClass(), c.name() + ": wrong exception type: " + thrown);
            assertNotNull(thrown.getMessage(), c.name() + ": the exception says nothing");
            assertTrue(thrown.getMessage().toLowerCase(Locale.ROOT).contains(c.mentions().toLowerCase(Locale.ROOT)),
                c.name() + ": the message should mention '" + c.mentions() + "': " + thrown.getMessage());
            assertEquals(before, scene.state.get(), c.name() + ": the failed call changed the allocator's state");
            scene.next.run();
        }
        baseline.assertBack(c.name() + ": native memory not returned");
    }

    /** Makes the bounds-check mode of the run visible in the report, and checks the flag really reached Agrona. */
    @Test
    void reportsWhetherAgronaBoundsChecksAreOn()
    {
        final boolean disabled = Boolean.getBoolean("agrona.disable.bounds.checks");
        assertEquals(!disabled, UnsafeBuffer.SHOULD_BOUNDS_CHECK, "Agrona sees the same setting as the command line");
        System.out.println("MisuseMatrixTest: Agrona bounds checks " + (disabled ? "DISABLED" : "enabled") + ", " +
            cases().count() + " misuse cases");
    }

    static Stream<Arguments> cases()
    {
        return Stream.of(lake(), droplet(), view(), sandbox(), snapshot(), arena(), transaction(), arenaVec(),
            fixedArena(), buffer(), bytes(), handles(), buddyArena(), buddyBuffers(), buddyHandles(), slices(), sliceRefs(),
            sliceReader(), region(), threadLakes())
            .flatMap(s -> s);
    }

    // -------------------------------------------------------------------------------------------------- Lake

    private static String lakeState(final LakeAllocator lake)
    {
        return lake.stats() + " @" + lake.position();
    }

    /** A lake with one live droplet holding 77 and one mark: the state every lake case starts from. */
    private static Scene lakeScene(final Lake lake, final Droplet live)
    {
        live.putLong(0, 77L);
        lake.mark();
        lake.allocate(8);
        return new Scene().own(lake).state(() -> lakeState(lake) + " live=" + live.getLong(0))
            .next(() ->
            {
                assertEquals(77L, live.getLong(0));
                lake.buffer().putLong(lake.allocate(8), 1L);
            });
    }

    private static Stream<Arguments> lake()
    {
        return Stream.of(
            misuse("Lake: allocate(-1)", IllegalArgumentException.class, "-1", () ->
            {
                final Lake lake = Lake.of(1024);
                return lakeScene(lake, lake.droplet(16)).misuse(() -> lake.allocate(-1));
            }),
            misuse("Lake: allocate(0)", IllegalArgumentException.class, "0", () ->
            {
                final Lake lake = Lake.of(1024);
                return lakeScene(lake, lake.droplet(16)).misuse(() -> lake.allocate(0));
            }),
            misuse("Lake: allocate(Integer.MAX_VALUE) (huge)", LakeOverflowException.class, "2147483647", () ->
            {
                final Lake lake = Lake.of(1024);
                return lakeScene(lake, lake.droplet(16)).misuse(() -> lake.allocate(Integer.MAX_VALUE));
            }),
            misuse("Lake: allocate more than remains", LakeOverflowException.class, "1001", () ->
            {
                final Lake lake = Lake.of(1024);
                return lakeScene(lake, lake.droplet(16)).misuse(() -> lake.droplet(1001));
            }),
            misuse("Lake: allocateLongs(Integer.MAX_VALUE) (size overflows int)", LakeOverflowException.class, "17179869176", () ->
            {
                final Lake lake = Lake.of(1024);
                return lakeScene(lake, lake.droplet(16)).misuse(() -> lake.allocateLongs(Integer.MAX_VALUE));
            }),
            misuse("Lake: unaligned alignment 3", IllegalArgumentException.class, "3", () ->
            {
                final Lake lake = Lake.of(1024);
                return lakeScene(lake, lake.droplet(16)).misuse(() -> lake.allocate(8, 3));
            }),
            misuse("Lake: alignment above the page size", IllegalArgumentException.class, "1048576", () ->
            {
                final Lake lake = Lake.of(1024);
                return lakeScene(lake, lake.droplet(16)).misuse(() -> lake.droplet(8, 1 << 20));
            }),
            misuse("Lake: negative alignment", IllegalArgumentException.class, "-8", () ->
            {
                final Lake lake = Lake.of(1024);
                return lakeScene(lake, lake.droplet(16)).misuse(() -> lake.split(64, -8));
            }),
            misuse("Lake: resetToMark() with no mark", IllegalStateException.class, "mark", () ->
            {
                final Lake lake = Lake.of(1024);
                final Scene s = lakeScene(lake, lake.droplet(16));
                lake.resetToMark();
                return s.misuse(lake::resetToMark);
            }),
            misuse("Lake: moveMark() with no mark", IllegalStateException.class, "mark", () ->
            {
                final Lake lake = Lake.of(1024);
                return new Scene().own(lake).state(() -> lakeState(lake)).misuse(lake::moveMark)
                    .next(() -> lake.mark());
            }),
            misuse("Lake: process() writer reports more than it was given", LakeOverflowException.class, "2000", () ->
            {
                final Lake lake = Lake.of(1024);
                return lakeScene(lake, lake.droplet(16)).misuse(() -> lake.process((b, o, cap) -> 2000));
            }),
            misuse("Lake: process() writer reports a negative length", IllegalArgumentException.class, "-3", () ->
            {
                final Lake lake = Lake.of(1024);
                return lakeScene(lake, lake.droplet(16)).misuse(() -> lake.process((b, o, cap) -> -3));
            }),
            misuse("Lake: process() writer rewinds the lake it writes into", IllegalStateException.class, "changed", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                live.putLong(0, 77L);
                lake.mark();
                // the writer's own allocation stays (it is the writer's); what process() must not keep is a droplet
                return new Scene().own(lake).state(() -> live.getLong(0) + " marks=" + lake.markDepth())
                    .misuse(() -> lake.process((b, o, cap) ->
                    {
                        lake.allocate(8);
                        return 0;
                    }))
                    .next(() -> assertEquals(77L, live.getLong(0)));
            }),
            misuse("Lake: any allocation after close", IllegalStateException.class, "closed", () ->
            {
                final Lake lake = Lake.of(1024);
                lake.close();
                return new Scene().own(lake).state(() -> lake.used() + "/" + lake.isOpen()).misuse(() -> lake.allocate(8))
                    .next(() -> { try (Lake fresh = Lake.of(64)) { fresh.allocate(8); } });
            }),
            misuse("Lake: builder capacity 0", IllegalArgumentException.class, "0", () ->
                new Scene().misuse(() -> Lake.builder(0)).next(() -> { try (Lake l = Lake.of(8)) { l.allocate(8); } })),
            misuse("Lake: builder capacity above 2 GiB (huge)", IllegalArgumentException.class, "4294967296", () ->
                new Scene().misuse(() -> Lake.builder(1L << 32)).next(() -> { try (Lake l = Lake.of(8)) { l.allocate(8); } })),
            misuse("Lake: builder alignment not a power of two", IllegalArgumentException.class, "48", () ->
                new Scene().misuse(() -> Lake.builder(64).alignment(48)).next(() -> Lake.of(8).close())));
    }

    // ----------------------------------------------------------------------------------------------- Droplet

    private static Stream<Arguments> droplet()
    {
        return Stream.of(
            misuse("Droplet: read after the lake rewound below it (resetToMark)", StaleHandleException.class, "no longer valid", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                final Scene s = lakeScene(lake, live);
                final Droplet gone = lake.droplet(16);
                lake.resetToMark();
                return s.misuse(() -> gone.getLong(0));
            }),
            misuse("Droplet: write after reset()", StaleHandleException.class, "no longer valid", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet gone = lake.droplet(16);
                lake.reset();
                final Droplet live = lake.droplet(16);
                return lakeScene(lake, live).misuse(() -> gone.putLong(0, 1L));
            }),
            misuse("Droplet: stays stale after its bytes are handed out again", StaleHandleException.class, "rewound", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                lake.mark();
                final Droplet gone = lake.droplet(16);
                lake.resetToMark();
                final Droplet again = lake.droplet(16); // the same bytes
                again.putLong(0, 5L);
                return new Scene().own(lake).state(() -> lakeState(lake) + again.getLong(0)).misuse(() -> gone.getLong(0))
                    .next(() -> assertEquals(5L, again.getLong(0)));
            }),
            misuse("Droplet: read after the lake closed", StaleHandleException.class, "closed", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet gone = lake.droplet(16);
                lake.close();
                return new Scene().own(lake).misuse(() -> gone.getByte(0)).next(() -> assertFalse(gone.isValid()));
            }),
            misuse("Droplet: wrap() after rewind", StaleHandleException.class, "no longer valid", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                final Scene s = lakeScene(lake, live);
                final Droplet gone = lake.droplet(16);
                lake.resetToMark();
                return s.misuse(() -> gone.wrap(new UnsafeBuffer(new byte[0]), (f, b, o) -> f.wrap(b, o, 8)));
            }),
            misuse("Droplet: getLong past the end (out of bounds)", IndexOutOfBoundsException.class, "index 9", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                return lakeScene(lake, live).misuse(() -> live.getLong(9));
            }),
            misuse("Droplet: putInt at a negative index", IndexOutOfBoundsException.class, "-4", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                return lakeScene(lake, live).misuse(() -> live.putInt(-4, 1));
            }),
            misuse("Droplet: putBytes longer than the droplet", IndexOutOfBoundsException.class, "index", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                return lakeScene(lake, live).misuse(() -> live.putBytes(8, new byte[9]));
            }),
            misuse("Droplet: setMemory with a huge length", IndexOutOfBoundsException.class, "index", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                return lakeScene(lake, live).misuse(() -> live.setMemory(0, Integer.MAX_VALUE, (byte)1));
            }));
    }

    // --------------------------------------------------------------------------------------------- LakeView

    private static Stream<Arguments> view()
    {
        return Stream.of(
            misuse("LakeView: allocate after the parent reset", StaleHandleException.class, "no longer valid", () ->
            {
                final Lake lake = Lake.of(1024);
                final LakeView gone = lake.split(128);
                gone.allocate(8);
                lake.reset();
                final Droplet live = lake.droplet(16);
                return lakeScene(lake, live).misuse(() -> gone.allocate(8));
            }),
            misuse("LakeView: droplet of a view after the parent rewound over it", StaleHandleException.class, "rewound over", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                final Scene s = lakeScene(lake, live);
                final LakeView view = lake.split(128);
                final Droplet inView = view.droplet(8);
                lake.resetToMark();
                return s.misuse(() -> inView.getLong(0));
            }),
            misuse("LakeView: allocate beyond the view (it never touches its parent)", LakeOverflowException.class, "129", () ->
            {
                final Lake lake = Lake.of(1024);
                final LakeView view = lake.split(128);
                final Droplet live = view.droplet(16);
                live.putLong(0, 3L);
                return new Scene().own(lake).state(() -> lakeState(view) + lakeState(lake)).misuse(() -> view.allocate(129))
                    .next(() -> assertEquals(3L, live.getLong(0)));
            }),
            misuse("LakeView: use after the lake closed", StaleHandleException.class, "closed", () ->
            {
                final Lake lake = Lake.of(1024);
                final LakeView gone = lake.split(128);
                lake.close();
                return new Scene().own(lake).misuse(gone::mark).next(() -> assertFalse(gone.isValid()));
            }),
            misuse("LakeView: split with size 0", IllegalArgumentException.class, "0", () ->
            {
                final Lake lake = Lake.of(1024);
                final LakeView view = lake.split(128);
                return new Scene().own(lake).state(() -> lakeState(view) + lakeState(lake)).misuse(() -> view.split(0))
                    .next(() -> view.split(16).allocate(8));
            }));
    }

    // ---------------------------------------------------------------------------------------------- Sandbox

    private static Stream<Arguments> sandbox()
    {
        return Stream.of(
            misuse("Sandbox: commit twice", IllegalStateException.class, "already ended", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                final Sandbox s = lake.sandbox();
                lake.allocate(8);
                s.commit();
                return lakeScene(lake, live).misuse(s::commit);
            }),
            misuse("Sandbox: allocate through a rolled-back sandbox", IllegalStateException.class, "already ended", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                final Sandbox s = lake.sandbox();
                s.rollback();
                return lakeScene(lake, live).misuse(() -> s.allocate(8));
            }),
            misuse("Sandbox: commit after a rewind below its start", StaleHandleException.class, "below the sandbox", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                live.putLong(0, 77L);
                final LakeSnapshot before = lake.snapshot();
                lake.allocate(8);
                final Sandbox s = lake.sandbox();
                lake.rewind(before);
                return new Scene().own(lake).state(() -> lakeState(lake)).misuse(s::commit)
                    .next(() -> assertEquals(77L, live.getLong(0)));
            }),
            misuse("Sandbox: commit the outer one while an inner one is open", IllegalStateException.class, "still open", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                final Sandbox outer = lake.sandbox();
                lake.sandbox();
                return lakeScene(lake, live).misuse(outer::commit);
            }),
            misuse("Sandbox token: commit after it ended", StaleHandleException.class, "already ended", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                final long token = lake.beginSandbox();
                lake.endSandbox(token);
                return lakeScene(lake, live).misuse(() -> lake.commitSandbox(token));
            }),
            misuse("Sandbox: commit after the lake closed", StaleHandleException.class, "no longer valid", () ->
            {
                final Lake lake = Lake.of(1024);
                final Sandbox s = lake.sandbox();
                lake.close();
                return new Scene().own(lake).misuse(s::commit).next(() ->
                {
                    s.close(); // closing an invalidated sandbox is quiet
                    assertFalse(s.isOpen());
                });
            }));
    }

    // ------------------------------------------------------------------------------------------ LakeSnapshot

    private static Stream<Arguments> snapshot()
    {
        return Stream.of(
            misuse("LakeSnapshot: of another lake", IllegalArgumentException.class, "per allocator", () ->
            {
                final Lake lake = Lake.of(1024);
                final Lake other = Lake.of(64);
                final LakeSnapshot foreign = other.snapshot();
                return lakeScene(lake, lake.droplet(16)).own(other).misuse(() -> lake.rewind(foreign));
            }),
            misuse("LakeSnapshot: of a view, used on its parent", IllegalArgumentException.class, "per allocator", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                final LakeView view = lake.split(64);
                final LakeSnapshot ofView = view.snapshot();
                return lakeScene(lake, live).misuse(() -> lake.rewind(ofView));
            }),
            misuse("LakeSnapshot: stale (the lake went below it since)", StaleHandleException.class, "stale", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                final Scene s = lakeScene(lake, live);
                final LakeSnapshot high = lake.snapshot();
                lake.resetToMark();
                lake.allocate(64); // past the snapshot again: still stale
                return s.misuse(() -> lake.rewind(high));
            }),
            misuse("LakeSnapshot: made up, ahead of the position", IllegalArgumentException.class, "not a snapshot", () ->
            {
                final Lake lake = Lake.of(1024);
                final Droplet live = lake.droplet(16);
                final LakeSnapshot forged = new LakeSnapshot(lake, 5000, 0, 1);
                return lakeScene(lake, live).misuse(() -> lake.rewind(forged));
            }),
            misuse("LakeSnapshot: rewind after the lake closed", IllegalStateException.class, "closed", () ->
            {
                final Lake lake = Lake.of(1024);
                final LakeSnapshot s = lake.snapshot();
                lake.close();
                return new Scene().own(lake).misuse(() -> lake.rewind(s)).next(() -> Lake.of(8).close());
            }));
    }

    // ------------------------------------------------------------------------------------------------- Arena

    private static String arenaState(final Arena arena)
    {
        final Checkpoint here = arena.isClosed() ? null : arena.checkpoint();
        return arena.stats() + " depth=" + arena.transactionDepth() +
            (here == null ? " closed" : " @" + here.block() + ":" + here.offset());
    }

    /** An arena with one live allocation holding 77. */
    private static Scene arenaScene(final Arena arena, final long live)
    {
        arena.buffer(live).putLong(Arena.offset(live), 77L);
        return new Scene().own(arena).state(() -> arenaState(arena) + " live=" + arena.buffer(live).getLong(Arena.offset(live)))
            .next(() ->
            {
                assertEquals(77L, arena.buffer(live).getLong(Arena.offset(live)));
                final long ref = arena.allocate(8, 8);
                arena.buffer(ref).putLong(Arena.offset(ref), 1L);
            });
    }

    private static Stream<Arguments> arena()
    {
        return Stream.of(
            misuse("Arena: allocate(0)", IllegalArgumentException.class, "0", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                return arenaScene(arena, arena.allocate(8)).misuse(() -> arena.allocate(0));
            }),
            misuse("Arena: allocate(-5)", IllegalArgumentException.class, "-5", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                return arenaScene(arena, arena.allocate(8)).misuse(() -> arena.tryAllocate(-5, 8));
            }),
            misuse("Arena: alignment 24 (not a power of two)", IllegalArgumentException.class, "24", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                return arenaScene(arena, arena.allocate(8)).misuse(() -> arena.allocate(8, 24));
            }),
            misuse("Arena: alignment above the page size", IllegalArgumentException.class, "1048576", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                return arenaScene(arena, arena.allocate(8)).misuse(() -> arena.allocateZeroed(8, 1 << 20));
            }),
            misuse("Arena: array whose byte size overflows int (huge)", IllegalArgumentException.class, "1073741824", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                return arenaScene(arena, arena.allocate(8)).misuse(() -> arena.allocateArray(1 << 30, 8));
            }),
            misuse("Arena: huge request beyond the reserve limit", OutOfMemoryError.class, "reserve limit", () ->
            {
                final Arena arena = Arena.builder().initialBlockSize(256).maxReservedBytes(1 << 16).build();
                return arenaScene(arena, arena.allocate(8)).misuse(() -> arena.allocate(1 << 20, 8));
            }),
            misuse("Arena: checkpoint of another arena", IllegalArgumentException.class, "another arena", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final Arena other = Arena.withCapacity(64);
                final Checkpoint foreign = other.checkpoint();
                return arenaScene(arena, arena.allocate(8)).own(other).misuse(() -> arena.rewind(foreign));
            }),
            misuse("Arena: stale checkpoint (rewound below, then grown past again)", StaleHandleException.class, "stale", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Checkpoint low = arena.checkpoint();
                arena.allocate(16);
                final Checkpoint high = arena.checkpoint();
                arena.rewind(low);
                arena.allocate(64);
                return arenaScene(arena, live).misuse(() -> arena.rewind(high));
            }),
            misuse("Arena: rewind below the open transaction", IllegalStateException.class, "transaction", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Checkpoint before = arena.checkpoint();
                arena.allocate(8);
                final Transaction tx = arena.transaction();
                return arenaScene(arena, live).own(tx).misuse(() -> arena.rewind(before));
            }),
            misuse("Arena: reset with a transaction open", IllegalStateException.class, "transaction is open", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Transaction tx = arena.transaction();
                return arenaScene(arena, live).own(tx).misuse(arena::reset);
            }),
            misuse("Arena: buffer(NULL)", StaleHandleException.class, "not in a block in use", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                return arenaScene(arena, arena.allocate(8)).misuse(() -> arena.buffer(Arena.NULL));
            }),
            misuse("Arena: buffer(ref) of a block rewound past", StaleHandleException.class, "rewound past", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Checkpoint cp = arena.checkpoint();
                arena.allocate(200); // still the first block
                final long far = arena.allocate(200); // the second block
                assertEquals(1, Arena.block(far));
                arena.rewind(cp);
                return arenaScene(arena, live).misuse(() -> arena.buffer(far));
            }),
            misuse("Arena: allocate after close", IllegalStateException.class, "closed", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                arena.close();
                return new Scene().own(arena).state(() -> arenaState(arena)).misuse(() -> arena.allocate(8))
                    .next(() -> { try (Arena fresh = Arena.withCapacity(64)) { fresh.allocate(8); } });
            }),
            misuse("Arena: buffer(ref) after close", StaleHandleException.class, "closed", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long ref = arena.allocate(8);
                arena.close();
                return new Scene().own(arena).state(() -> arenaState(arena)).misuse(() -> arena.buffer(ref))
                    .next(() -> assertTrue(arena.isClosed()));
            }),
            misuse("Arena: rewind from inside a cleanup action", IllegalStateException.class, "cleanup action", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Checkpoint cp = arena.checkpoint();
                final RuntimeException[] inside = new RuntimeException[1];
                arena.defer(() ->
                {
                    try
                    {
                        arena.rewind(cp);
                    }
                    catch (final RuntimeException ex)
                    {
                        inside[0] = ex;
                    }
                });
                arena.rewind(cp); // runs the action, which tries to rewind again
                return arenaScene(arena, live).misuse(() -> { throw inside[0]; });
            }),
            misuse("Arena: builder initial block size 0", IllegalArgumentException.class, "0", () ->
                new Scene().misuse(() -> Arena.builder().initialBlockSize(0))
                    .next(() -> { try (Arena a = Arena.withCapacity(8)) { a.allocate(8); } })));
    }

    // ------------------------------------------------------------------------------------------- Transaction

    private static Stream<Arguments> transaction()
    {
        return Stream.of(
            misuse("Transaction: commit twice", IllegalStateException.class, "already committed", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Transaction tx = arena.transaction();
                tx.commit();
                return arenaScene(arena, live).misuse(tx::commit);
            }),
            misuse("Transaction: commit after rollback", StaleHandleException.class, "already closed", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Transaction tx = arena.transaction();
                tx.allocate(8);
                tx.rollback();
                return arenaScene(arena, live).misuse(tx::commit);
            }),
            misuse("Transaction: allocate after commit", StaleHandleException.class, "closed", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Transaction tx = arena.transaction();
                tx.commit();
                return arenaScene(arena, live).misuse(() -> tx.allocate(8));
            }),
            misuse("Transaction: allocate in the outer one while a savepoint is open", IllegalStateException.class, "savepoint", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Transaction outer = arena.transaction();
                final Transaction inner = outer.savepoint();
                return arenaScene(arena, live).own(outer, inner).misuse(() -> outer.allocate(8));
            }),
            misuse("Transaction: commit the outer one while a savepoint is open", IllegalStateException.class, "savepoint", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Transaction outer = arena.transaction();
                final Transaction inner = outer.savepoint();
                return arenaScene(arena, live).own(outer, inner).misuse(outer::commit);
            }),
            misuse("Transaction: negative budget", IllegalArgumentException.class, "-1", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Transaction tx = arena.transaction();
                return arenaScene(arena, live).own(tx).state(() -> arenaState(arena) + tx.limit()).misuse(() -> tx.setLimit(-1));
            }),
            misuse("Transaction: allocation over its budget", BudgetExceededException.class, "limit", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Transaction tx = arena.transaction();
                tx.setLimit(16);
                tx.allocate(8);
                return arenaScene(arena, live).own(tx).state(() -> arenaState(arena) + tx.budgetRemaining())
                    .misuse(() -> tx.allocate(16));
            }),
            misuse("Transaction: read after the arena closed", StaleHandleException.class, "closed", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final Transaction tx = arena.transaction();
                arena.close();
                return new Scene().own(arena).misuse(tx::bytesUsed).next(() -> assertFalse(tx.isOpen()));
            }),
            misuse("Transaction token: commit after end", StaleHandleException.class, "already closed", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final long token = arena.beginTransaction();
                arena.endTransaction(token);
                return arenaScene(arena, live).misuse(() -> arena.commitTransaction(token));
            }));
    }

    // ------------------------------------------------------------------------------------ ArenaVec, ArenaView

    private static Stream<Arguments> arenaVec()
    {
        return Stream.of(
            misuse("ArenaVec: get(size) (out of bounds)", IndexOutOfBoundsException.class, "3", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
                vec.push(1);
                vec.push(2);
                vec.push(3);
                return new Scene().own(arena).state(() -> arenaState(arena) + vec).misuse(() -> vec.get(3))
                    .next(() -> assertEquals(3L, vec.get(2)));
            }),
            misuse("ArenaVec: truncate beyond the size", IndexOutOfBoundsException.class, "5", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final ArenaVec.OfInt vec = ArenaVec.ofInts(arena);
                vec.push(1);
                return new Scene().own(arena).state(() -> arenaState(arena) + vec).misuse(() -> vec.truncate(5))
                    .next(() -> assertEquals(1, vec.get(0)));
            }),
            misuse("ArenaVec: pop from empty", NoSuchElementException.class, "empty", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final ArenaVec.OfDouble vec = ArenaVec.ofDoubles(arena);
                return new Scene().own(arena).state(() -> arenaState(arena) + vec).misuse(vec::pop)
                    .next(() -> vec.push(1.5));
            }),
            misuse("ArenaVec: reserve(-1)", IllegalArgumentException.class, "-1", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
                return new Scene().own(arena).state(() -> arenaState(arena) + vec).misuse(() -> vec.reserve(-1))
                    .next(() -> vec.push(1));
            }),
            misuse("ArenaVec: use after finish()", StaleHandleException.class, "finished", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
                vec.push(7);
                final ArenaView.OfLong view = vec.finish();
                return new Scene().own(arena).state(() -> arenaState(arena) + view.get(0)).misuse(() -> vec.push(1))
                    .next(() -> assertEquals(7L, view.get(0)));
            }),
            misuse("ArenaVec: use after the arena reset", StaleHandleException.class, "rewound or reset", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
                vec.push(7);
                arena.reset();
                return arenaScene(arena, arena.allocate(8)).misuse(() -> vec.get(0));
            }),
            misuse("ArenaView: read after the arena rewound below it", StaleHandleException.class, "rewound or reset", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final long live = arena.allocate(8);
                final Checkpoint cp = arena.checkpoint();
                final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
                vec.push(7);
                final ArenaView.OfLong view = vec.finish();
                arena.rewind(cp);
                return arenaScene(arena, live).misuse(() -> view.get(0));
            }),
            misuse("ArenaView: get out of bounds", IndexOutOfBoundsException.class, "1", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
                vec.push(7);
                final ArenaView.OfLong view = vec.finish();
                return new Scene().own(arena).state(() -> arenaState(arena)).misuse(() -> view.get(1))
                    .next(() -> assertEquals(7L, view.get(0)));
            }),
            misuse("ArenaView: read after the arena closed", StaleHandleException.class, "closed", () ->
            {
                final Arena arena = Arena.withCapacity(256);
                final ArenaVec.OfLong vec = ArenaVec.ofLongs(arena);
                vec.push(7);
                final ArenaView.OfLong view = vec.finish();
                arena.close();
                return new Scene().own(arena).misuse(() -> view.get(0)).next(() -> assertFalse(view.isValid()));
            }));
    }

    // -------------------------------------------------------------------------------------------- FixedArena

    private static String poolState(final FixedArena arena)
    {
        return arena.metrics().toString();
    }

    /** An arena of 2 slots with one live frozen Bytes holding 77. */
    private static Scene poolScene(final FixedArena arena, final Bytes live)
    {
        return new Scene().own(arena).own(() -> { if (!live.isReleased()) { live.release(); } })
            .state(() -> poolState(arena) + " live=" + live.getLong(0))
            .next(() ->
            {
                assertEquals(77L, live.getLong(0));
                final Buffer b = arena.tryAllocate();
                if (b != null)
                {
                    b.putLong(1L).freeze().release();
                }
            });
    }

    private static Bytes frozen77(final FixedArena arena)
    {
        return arena.allocate().putLong(77L).freeze();
    }

    private static Stream<Arguments> fixedArena()
    {
        return Stream.of(
            misuse("FixedArena: allocate when full", ArenaFullException.class, "2", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Bytes live = frozen77(arena);
                final Bytes other = frozen77(arena);
                final Scene s = poolScene(arena, live);
                return s.own(other::release).state(() -> arena.liveSlots() + " " + live.getLong(0))
                    .misuse(arena::allocate)
                    .next(() -> assertEquals(77L, live.getLong(0)));
            }),
            misuse("FixedArena: allocate(minCapacity) larger than a slot", RequestTooLargeException.class, "17", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                return poolScene(arena, frozen77(arena)).misuse(() -> arena.allocate(17));
            }),
            misuse("FixedArena: allocate(0)", IllegalArgumentException.class, "0", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                return poolScene(arena, frozen77(arena)).misuse(() -> arena.tryAllocate(0));
            }),
            misuse("FixedArena: allocate after close", dev.lake.pool.ArenaClosedException.class, "closed", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Bytes live = frozen77(arena);
                arena.close();
                return new Scene().own(arena).own(live::release).state(() -> poolState(arena) + " " + live.getLong(0))
                    .misuse(arena::allocateHandle).next(() -> assertEquals(77L, live.getLong(0)));
            }),
            misuse("FixedArena: builder with 0 slots", IllegalArgumentException.class, "0", () ->
                new Scene().misuse(() -> FixedArena.builder(0, 16)).next(() -> FixedArena.builder(1, 8).build().close())),
            misuse("FixedArena: builder with a huge slot count", IllegalArgumentException.class, "2147483647", () ->
                new Scene().misuse(() -> FixedArena.builder(Integer.MAX_VALUE, 16))
                    .next(() -> FixedArena.builder(1, 8).build().close())),
            misuse("FixedArena: builder alignment 12", IllegalArgumentException.class, "12", () ->
                new Scene().misuse(() -> FixedArena.builder(2, 16).alignment(12))
                    .next(() -> FixedArena.builder(1, 8).build().close())),
            misuse("FixedArena: builder slot capacity -1", IllegalArgumentException.class, "-1", () ->
                new Scene().misuse(() -> FixedArena.builder(2, -1).build())
                    .next(() -> FixedArena.builder(1, 8).build().close())));
    }

    private static Stream<Arguments> buffer()
    {
        return Stream.of(
            misuse("Buffer: write past capacity", IndexOutOfBoundsException.class, "remaining", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Buffer b = arena.allocate();
                b.putLong(1L).putInt(2);
                return poolScene(arena, frozen77(arena)).own(b).state(() -> poolState(arena) + " " + b)
                    .misuse(() -> b.putLong(3L))
                    .next(() ->
                    {
                        final Bytes frozen = b.freeze();
                        assertEquals(12, frozen.length());
                        frozen.release();
                    });
            }),
            misuse("Buffer: write after freeze", StaleHandleException.class, "frozen", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Buffer b = arena.allocate();
                b.putLong(77L);
                final Bytes live = b.freeze();
                return poolScene(arena, live).misuse(() -> b.putLong(1L));
            }),
            misuse("Buffer: freeze twice", StaleHandleException.class, "frozen", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Buffer b = arena.allocate();
                b.putLong(77L);
                final Bytes live = b.freeze();
                return poolScene(arena, live).misuse(b::freeze);
            }),
            misuse("Buffer: codec view that leaked past freeze", StaleHandleException.class, "frozen", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Buffer b = arena.allocate();
                final MutableDirectBuffer view = b.mutableBuffer();
                view.putLong(0, 77L);
                final Bytes live = b.freeze();
                return poolScene(arena, live).misuse(() -> view.putLong(0, 1L));
            }),
            misuse("Buffer: codec view write out of bounds", IndexOutOfBoundsException.class, "remaining", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Buffer b = arena.allocate();
                final MutableDirectBuffer view = b.mutableBuffer();
                return poolScene(arena, frozen77(arena)).own(b).state(() -> poolState(arena) + " " + b)
                    .misuse(() -> view.putLong(12, 1L)).next(() -> view.putLong(8, 1L));
            }),
            misuse("Buffer: write after close", StaleHandleException.class, "closed", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Buffer b = arena.allocate();
                b.close();
                return poolScene(arena, frozen77(arena)).misuse(() -> b.putByte((byte)1));
            }),
            misuse("Buffer: putBytes with a source range outside the array", IndexOutOfBoundsException.class, "4", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Buffer b = arena.allocate();
                return poolScene(arena, frozen77(arena)).own(b).state(() -> poolState(arena) + " " + b)
                    .misuse(() -> b.putBytes(new byte[4], 2, 4)).next(() -> b.putBytes(new byte[4], 0, 4));
            }),
            misuse("Buffer: negative position", IndexOutOfBoundsException.class, "-1", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Buffer b = arena.allocate();
                return poolScene(arena, frozen77(arena)).own(b).state(() -> poolState(arena) + " " + b)
                    .misuse(() -> b.position(-1)).next(() -> b.position(4));
            }));
    }

    private static Stream<Arguments> bytes()
    {
        return Stream.of(
            misuse("Bytes: read after release", StaleHandleException.class, "released", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Bytes live = frozen77(arena);
                final Bytes gone = live.retain();
                gone.release();
                return poolScene(arena, live).misuse(() -> gone.getLong(0));
            }),
            misuse("Bytes: double release (other references unaffected)", StaleHandleException.class, "double release", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Bytes live = frozen77(arena);
                final Bytes gone = live.retain();
                gone.release();
                return poolScene(arena, live).misuse(gone::release);
            }),
            misuse("Bytes: retain after release", StaleHandleException.class, "released", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Bytes live = frozen77(arena);
                final Bytes gone = live.slice(0, 4);
                gone.release();
                return poolScene(arena, live).misuse(gone::retain);
            }),
            misuse("Bytes: Agrona copy from a released Bytes", StaleHandleException.class, "released", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Bytes live = frozen77(arena);
                final Bytes gone = live.retain();
                gone.release();
                final UnsafeBuffer target = new UnsafeBuffer(new byte[16]);
                return poolScene(arena, live).misuse(() -> target.putBytes(0, gone, 0, 8));
            }),
            misuse("Bytes: slice out of range", IndexOutOfBoundsException.class, "length=8", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Bytes live = frozen77(arena);
                return poolScene(arena, live).misuse(() -> live.slice(4, 8));
            }),
            misuse("Bytes: getLong past the end", IndexOutOfBoundsException.class, "1", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Bytes live = frozen77(arena);
                return poolScene(arena, live).misuse(() -> live.getLong(1));
            }),
            misuse("Bytes: getBytes into a too small array", IndexOutOfBoundsException.class, "8", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Bytes live = frozen77(arena);
                return poolScene(arena, live).misuse(() -> live.getBytes(0, new byte[4], 0, 8));
            }),
            misuse("Bytes: wrap (re-pointing a shared view)", UnsupportedOperationException.class, "wrap", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final Bytes live = frozen77(arena);
                return poolScene(arena, live).misuse(() -> live.wrap(new byte[8]));
            }));
    }

    private static Stream<Arguments> handles()
    {
        return Stream.of(
            misuse("FixedArena handle: read after the last release", StaleHandleException.class, "released", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final long gone = arena.allocateHandle();
                arena.release(gone);
                return poolScene(arena, frozen77(arena)).misuse(() -> arena.getLong(gone, 0));
            }),
            misuse("FixedArena handle: read after its slot was reused", StaleHandleException.class, "reused", () ->
            {
                final FixedArena arena = FixedArena.builder(1, 16).build();
                final long gone = arena.allocateHandle();
                arena.release(gone);
                final Bytes live = frozen77(arena); // the same slot, a new generation
                return poolScene(arena, live).misuse(() -> arena.getLong(gone, 0));
            }),
            misuse("FixedArena handle: double release", StaleHandleException.class, "released", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final long gone = arena.allocateHandle();
                arena.release(gone);
                return poolScene(arena, frozen77(arena)).misuse(() -> arena.release(gone));
            }),
            misuse("FixedArena handle: write after freeze", StaleHandleException.class, "frozen", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final long h = arena.allocateHandle();
                arena.putLong(h, 0, 5L);
                arena.freezeHandle(h, 8);
                return poolScene(arena, frozen77(arena)).own(() -> arena.release(h)).misuse(() -> arena.putLong(h, 0, 1L))
                    .next(() -> assertEquals(5L, arena.getLong(h, 0)));
            }),
            misuse("FixedArena handle: freeze twice", IllegalStateException.class, "already frozen", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final long h = arena.allocateHandle();
                arena.freezeHandle(h, 8);
                return poolScene(arena, frozen77(arena)).own(() -> arena.release(h)).misuse(() -> arena.freezeHandle(h, 8));
            }),
            misuse("FixedArena handle: retain before freeze", IllegalStateException.class, "freeze", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final long h = arena.allocateHandle();
                return poolScene(arena, frozen77(arena)).own(() -> arena.release(h)).misuse(() -> arena.retain(h));
            }),
            misuse("FixedArena handle: frozen length larger than a slot", IllegalArgumentException.class, "17", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final long h = arena.allocateHandle();
                return poolScene(arena, frozen77(arena)).own(() -> arena.release(h)).misuse(() -> arena.freezeHandle(h, 17));
            }),
            misuse("FixedArena handle: putLong out of bounds", IndexOutOfBoundsException.class, "index=12", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final long h = arena.allocateHandle();
                return poolScene(arena, frozen77(arena)).own(() -> arena.release(h)).misuse(() -> arena.putLong(h, 12, 1L))
                    .next(() -> arena.putLong(h, 8, 1L));
            }),
            misuse("FixedArena handle: read past the frozen length", IndexOutOfBoundsException.class, "4", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final long h = arena.allocateHandle();
                arena.freezeHandle(h, 4);
                return poolScene(arena, frozen77(arena)).own(() -> arena.release(h)).misuse(() -> arena.getInt(h, 2));
            }),
            misuse("FixedArena handle: NO_HANDLE", StaleHandleException.class, "not a handle", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                return poolScene(arena, frozen77(arena)).misuse(() -> arena.getLong(FixedArena.NO_HANDLE, 0));
            }),
            misuse("FixedArena handle: a made-up handle", StaleHandleException.class, "not a handle", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                return poolScene(arena, frozen77(arena)).misuse(() -> arena.release(-42L));
            }),
            misuse("FixedArena handle: a handle of another arena", StaleHandleException.class, "not a handle", () ->
            {
                final FixedArena arena = FixedArena.builder(2, 16).build();
                final FixedArena big = FixedArena.builder(64, 8).build();
                long h = FixedArena.NO_HANDLE;
                final long[] held = new long[64];
                for (int i = 0; i < 64; i++)
                {
                    held[i] = big.allocateHandle();
                    h = held[i];
                }
                final long foreign = h; // slot 63: beyond this arena's slots
                return poolScene(arena, frozen77(arena)).own(big).own(() -> { for (final long x : held) { big.release(x); } })
                    .misuse(() -> arena.putLong(foreign, 0, 1L));
            }));
    }

    // -------------------------------------------------------------------------------------------- BuddyArena

    /** The counters of a buddy arena (its metrics record holds an array, which has no value equality). */
    private static String buddyState(final BuddyArena arena)
    {
        final BuddyArenaMetrics m = arena.metrics();
        return m.allocations() + " allocations, " + m.failedAllocations() + " failed, " + m.frees() + " frees, " +
            m.frozen() + " frozen, " + m.liveBlocks() + " live blocks of " + m.bytesLive() + " B, free " +
            Arrays.toString(m.freeBytesPerOrder()) + " largest " + m.largestFreeBlock() + ", splits " + m.splits() +
            ", coalesces " + m.coalesces() + ", " + m.waits();
    }

    /** 1 KiB in blocks of 64 B and up. */
    private static BuddyArena buddy()
    {
        return BuddyArena.builder(1024, 64).build();
    }

    /** A request of 100 bytes (a block of 128) frozen with 77 in its first 8 bytes. */
    private static Bytes buddy77(final BuddyArena arena)
    {
        return arena.allocate(100).putLong(77L).freeze();
    }

    /** A buddy arena with one live frozen Bytes holding 77; the next operation uses both tiers and two orders. */
    private static Scene buddyScene(final BuddyArena arena, final Bytes live)
    {
        return new Scene().own(arena).own(() -> { if (!live.isReleased()) { live.release(); } })
            .state(() -> buddyState(arena) + " live=" + live.getLong(0))
            .next(() ->
            {
                assertEquals(77L, live.getLong(0));
                final Buffer b = arena.tryAllocate(64);
                if (b != null)
                {
                    b.putLong(1L).freeze().release();
                }
                final long h = arena.tryAllocateHandle(200);
                if (h != BuddyArena.NO_HANDLE)
                {
                    arena.putLong(h, 192, 2L);
                    arena.freezeHandle(h, 200);
                    assertEquals(2L, arena.getLong(h, 192));
                    arena.release(h);
                }
            });
    }

    /** The buddy scene with a writing handle of 100 bytes (a block of 128) that holds 5 at index 0. */
    private static Scene buddyHandleScene(final BuddyArena arena, final long h)
    {
        final Scene s = buddyScene(arena, buddy77(arena));
        final Supplier<Object> arenaState = s.state;
        final Runnable next = s.next;
        return s.own(() -> arena.release(h)).state(() -> arenaState.get() + " h=" + arena.getLong(h, 0) + "/" +
                arena.length(h) + "/" + arena.handleCapacity(h))
            .next(() ->
            {
                next.run();
                assertEquals(5L, arena.getLong(h, 0));
            });
    }

    private static long buddyHandle5(final BuddyArena arena)
    {
        final long h = arena.allocateHandle(100);
        arena.putLong(h, 0, 5L);
        return h;
    }

    private static Stream<Arguments> buddyArena()
    {
        return Stream.of(
            misuse("BuddyArena: allocate(0)", IllegalArgumentException.class, ": 0", () ->
            {
                final BuddyArena arena = buddy();
                return buddyScene(arena, buddy77(arena)).misuse(() -> arena.allocate(0));
            }),
            misuse("BuddyArena: tryAllocateHandle(-5)", IllegalArgumentException.class, "-5", () ->
            {
                final BuddyArena arena = buddy();
                return buddyScene(arena, buddy77(arena)).misuse(() -> arena.tryAllocateHandle(-5));
            }),
            misuse("BuddyArena: blockSizeFor(-1)", IllegalArgumentException.class, "-1", () ->
            {
                final BuddyArena arena = buddy();
                return buddyScene(arena, buddy77(arena)).misuse(() -> arena.blockSizeFor(-1));
            }),
            misuse("BuddyArena: allocate(Integer.MAX_VALUE) (huge)", RequestTooLargeException.class, "2147483647", () ->
            {
                final BuddyArena arena = buddy();
                return buddyScene(arena, buddy77(arena)).misuse(() -> arena.allocate(Integer.MAX_VALUE));
            }),
            misuse("BuddyArena: allocateHandle one byte more than the arena", RequestTooLargeException.class, "1025", () ->
            {
                final BuddyArena arena = buddy();
                return buddyScene(arena, buddy77(arena)).misuse(() -> arena.allocateHandle(1025));
            }),
            misuse("BuddyArena: a request above the arena never waits", RequestTooLargeException.class, "1025", () ->
            {
                final BuddyArena arena = buddy();
                return buddyScene(arena, buddy77(arena)).misuse(() ->
                {
                    try
                    {
                        arena.allocate(1025, Duration.ofMinutes(1));
                    }
                    catch (final InterruptedException ex)
                    {
                        throw new AssertionError(ex);
                    }
                });
            }),
            misuse("BuddyArena: allocateAsync(-1)", IllegalArgumentException.class, "-1", () ->
            {
                final BuddyArena arena = buddy();
                return buddyScene(arena, buddy77(arena)).misuse(() -> arena.allocateAsync(-1));
            }),
            misuse("BuddyArena: allocate when full", ArenaFullException.class, "1024 of 1024 bytes", () ->
            {
                final BuddyArena arena = buddy();
                final Bytes live = buddy77(arena);
                final long half = arena.allocateHandle(512);
                final long quarter = arena.allocateHandle(256);
                final long eighth = arena.allocateHandle(128);
                // a refused allocation is counted as failed: the state is the blocks, not that counter
                return buddyScene(arena, live).own(() -> { arena.release(half); arena.release(quarter); arena.release(eighth); })
                    .state(() -> arena.metrics().liveBlocks() + " " + arena.metrics().largestFreeBlock() + " " + live.getLong(0))
                    .misuse(() -> arena.allocate(64))
                    .next(() -> assertEquals(77L, live.getLong(0)));
            }),
            misuse("BuddyArena: allocate more than the largest free block (384 B free, no block of 512)", ArenaFullException.class, "640 of 1024", () ->
            {
                final BuddyArena arena = buddy();
                final Bytes live = buddy77(arena); // 128 at 0: 128, 256 and 512 stay free
                final long half = arena.allocateHandle(512);
                return buddyScene(arena, live).own(() -> arena.release(half))
                    .state(() -> Arrays.toString(arena.metrics().freeBytesPerOrder()) + " " + live.getLong(0))
                    .misuse(() -> arena.allocateHandle(300));
            }),
            misuse("BuddyArena: allocateHandle after close", ArenaClosedException.class, "closed", () ->
            {
                final BuddyArena arena = buddy();
                final Bytes live = buddy77(arena);
                arena.close();
                return new Scene().own(arena).own(live::release).state(() -> buddyState(arena) + " " + live.getLong(0))
                    .misuse(() -> arena.allocateHandle(64)).next(() -> assertEquals(77L, live.getLong(0)));
            }),
            misuse("BuddyArena: allocate after close", ArenaClosedException.class, "closed", () ->
            {
                final BuddyArena arena = buddy();
                arena.close();
                return new Scene().own(arena).state(() -> arena.isClosed() + " " + arena.isRegionFreed())
                    .misuse(() -> arena.allocate(64)).next(() -> { try (BuddyArena fresh = buddy()) { fresh.allocate(64).close(); } });
            }),
            misuse("BuddyArena: builder size not a power of two", IllegalArgumentException.class, "3000", () ->
                new Scene().misuse(() -> BuddyArena.builder(3000, 64).build()).next(() -> buddy().close())),
            misuse("BuddyArena: builder minimum block 100 (not a power of two)", IllegalArgumentException.class, "100", () ->
                new Scene().misuse(() -> BuddyArena.builder(4096, 100).build()).next(() -> buddy().close())),
            misuse("BuddyArena: builder minimum block 4 (below 8)", IllegalArgumentException.class, ": 4", () ->
                new Scene().misuse(() -> BuddyArena.builder(4096, 4).build()).next(() -> buddy().close())),
            misuse("BuddyArena: builder minimum block 0", IllegalArgumentException.class, ": 0", () ->
                new Scene().misuse(() -> BuddyArena.builder(4096, 0)).next(() -> buddy().close())),
            misuse("BuddyArena: builder size below the minimum block", IllegalArgumentException.class, "32", () ->
                new Scene().misuse(() -> BuddyArena.builder(32, 64).build()).next(() -> buddy().close())),
            misuse("BuddyArena: builder size 0", IllegalArgumentException.class, ": 0", () ->
                new Scene().misuse(() -> BuddyArena.builder(0, 64)).next(() -> buddy().close())),
            misuse("BuddyArena: builder size above 1 GiB (huge)", IllegalArgumentException.class, "2147483648", () ->
                new Scene().misuse(() -> BuddyArena.builder(2L << 30, 4096)).next(() -> buddy().close())),
            misuse("BuddyArena: builder roundUp(true) of a size above 1 GiB", IllegalArgumentException.class, "1610612736", () ->
                new Scene().misuse(() -> BuddyArena.builder(3L << 29, 4096).roundUp(true).build())
                    .next(() -> buddy().close())),
            misuse("BuddyArena: builder roundUp of a minimum block above 1 GiB", IllegalArgumentException.class, "1073741825", () ->
                new Scene().misuse(() -> BuddyArena.builder(1 << 30, (1 << 30) + 1).roundUp(true).build())
                    .next(() -> buddy().close())),
            misuse("BuddyArena: builder with too many minimum blocks", IllegalArgumentException.class, "too many minimum blocks", () ->
                new Scene().misuse(() -> BuddyArena.builder(1 << 30, 64).build()).next(() -> buddy().close())));
    }

    private static Stream<Arguments> buddyBuffers()
    {
        return Stream.of(
            misuse("BuddyArena Buffer: write past its block (the capacity is the block, not the request)", IndexOutOfBoundsException.class, "remaining", () ->
            {
                final BuddyArena arena = buddy();
                final Buffer b = arena.allocate(100);
                assertEquals(128, b.capacity());
                b.putBytes(new byte[124]);
                return buddyScene(arena, buddy77(arena)).own(b).state(() -> buddyState(arena) + " " + b)
                    .misuse(() -> b.putLong(3L))
                    .next(() ->
                    {
                        b.putInt(4);
                        final Bytes frozen = b.freeze();
                        assertEquals(128, frozen.length());
                        assertEquals(4, frozen.getInt(124));
                        frozen.release();
                    });
            }),
            misuse("BuddyArena Buffer: codec view write past its block", IndexOutOfBoundsException.class, "124", () ->
            {
                final BuddyArena arena = buddy();
                final Buffer b = arena.allocate(100);
                final MutableDirectBuffer view = b.mutableBuffer();
                return buddyScene(arena, buddy77(arena)).own(b).state(() -> buddyState(arena) + " " + b)
                    .misuse(() -> view.putLong(124, 1L)).next(() -> view.putLong(120, 1L));
            }),
            misuse("BuddyArena Buffer: write after freeze", StaleHandleException.class, "frozen", () ->
            {
                final BuddyArena arena = buddy();
                final Buffer b = arena.allocate(100);
                b.putLong(77L);
                final Bytes live = b.freeze();
                return buddyScene(arena, live).misuse(() -> b.putLong(1L));
            }),
            misuse("BuddyArena Buffer: freeze twice", StaleHandleException.class, "frozen", () ->
            {
                final BuddyArena arena = buddy();
                final Buffer b = arena.allocate(100);
                b.putLong(77L);
                final Bytes live = b.freeze();
                return buddyScene(arena, live).misuse(b::freeze);
            }),
            misuse("BuddyArena Buffer: write after close", StaleHandleException.class, "closed", () ->
            {
                final BuddyArena arena = buddy();
                final Buffer b = arena.allocate(64);
                b.close();
                return buddyScene(arena, buddy77(arena)).misuse(() -> b.putByte((byte)1));
            }),
            misuse("BuddyArena Bytes: read after release", StaleHandleException.class, "released", () ->
            {
                final BuddyArena arena = buddy();
                final Bytes live = buddy77(arena);
                final Bytes gone = live.retain();
                gone.release();
                return buddyScene(arena, live).misuse(() -> gone.getLong(0));
            }),
            misuse("BuddyArena Bytes: read after release, its block coalesced and handed out again", StaleHandleException.class, "released", () ->
            {
                final BuddyArena arena = BuddyArena.builder(1024, 64).freeBlockCache(false).build();
                final Bytes gone = arena.allocate(64).putLong(66L).freeze();
                gone.release(); // the last reference: the block coalesces back into the whole arena
                final Bytes live = buddy77(arena); // a block of 128 at the same address
                return buddyScene(arena, live).misuse(() -> gone.getLong(0));
            }),
            misuse("BuddyArena Bytes: double release (other references unaffected)", StaleHandleException.class, "double release", () ->
            {
                final BuddyArena arena = buddy();
                final Bytes live = buddy77(arena);
                final Bytes gone = live.retain();
                gone.release();
                return buddyScene(arena, live).misuse(gone::release);
            }),
            misuse("BuddyArena Bytes: retain after release", StaleHandleException.class, "released", () ->
            {
                final BuddyArena arena = buddy();
                final Bytes live = buddy77(arena);
                final Bytes gone = live.slice(0, 4);
                gone.release();
                return buddyScene(arena, live).misuse(gone::retain);
            }),
            misuse("BuddyArena Bytes: getLong past the frozen length (still inside its block)", IndexOutOfBoundsException.class, "index=8", () ->
            {
                final BuddyArena arena = buddy();
                final Bytes live = buddy77(arena);
                return buddyScene(arena, live).misuse(() -> live.getLong(8));
            }),
            misuse("BuddyArena Bytes: slice out of range", IndexOutOfBoundsException.class, "length=8", () ->
            {
                final BuddyArena arena = buddy();
                final Bytes live = buddy77(arena);
                return buddyScene(arena, live).misuse(() -> live.slice(4, 8));
            }),
            misuse("BuddyArena Bytes: wrap (re-pointing a shared view)", UnsupportedOperationException.class, "wrap", () ->
            {
                final BuddyArena arena = buddy();
                final Bytes live = buddy77(arena);
                return buddyScene(arena, live).misuse(() -> live.wrap(new byte[8]));
            }));
    }

    private static Stream<Arguments> buddyHandles()
    {
        return Stream.of(
            misuse("BuddyArena handle: read after the last release", StaleHandleException.class, "released", () ->
            {
                final BuddyArena arena = buddy();
                final long gone = arena.allocateHandle(64);
                arena.release(gone);
                return buddyScene(arena, buddy77(arena)).misuse(() -> arena.getLong(gone, 0));
            }),
            misuse("BuddyArena handle: read after its block was taken by a larger block", StaleHandleException.class, "released", () ->
            {
                final BuddyArena arena = BuddyArena.builder(1024, 64).freeBlockCache(false).build();
                final long gone = arena.allocateHandle(64);
                arena.putLong(gone, 0, 66L);
                arena.release(gone); // coalesces: the next block of 128 starts where it started
                final Bytes live = buddy77(arena);
                return buddyScene(arena, live).misuse(() -> arena.getLong(gone, 0));
            }),
            misuse("BuddyArena handle: write after its block was split into smaller ones", StaleHandleException.class, "released", () ->
            {
                final BuddyArena arena = BuddyArena.builder(1024, 64).freeBlockCache(false).build();
                final long gone = arena.allocateHandle(1024);
                arena.release(gone);
                final Bytes live = buddy77(arena); // the first block of the split arena starts at the same address
                return buddyScene(arena, live).misuse(() -> arena.putLong(gone, 0, 1L));
            }),
            misuse("BuddyArena handle: double release", StaleHandleException.class, "released", () ->
            {
                final BuddyArena arena = buddy();
                final long gone = arena.allocateHandle(64);
                arena.release(gone);
                return buddyScene(arena, buddy77(arena)).misuse(() -> arena.release(gone));
            }),
            misuse("BuddyArena handle: retain after the last release", StaleHandleException.class, "released", () ->
            {
                final BuddyArena arena = buddy();
                final long gone = arena.allocateHandle(64);
                arena.freezeHandle(gone, 0);
                arena.release(gone);
                return buddyScene(arena, buddy77(arena)).misuse(() -> arena.retain(gone));
            }),
            misuse("BuddyArena handle: handleCapacity after release", StaleHandleException.class, "released", () ->
            {
                final BuddyArena arena = buddy();
                final long gone = arena.allocateHandle(64);
                arena.release(gone);
                return buddyScene(arena, buddy77(arena)).misuse(() -> arena.handleCapacity(gone));
            }),
            misuse("BuddyArena handle: write after freeze", StaleHandleException.class, "frozen", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                arena.freezeHandle(h, 8);
                return buddyHandleScene(arena, h).misuse(() -> arena.putLong(h, 0, 1L));
            }),
            misuse("BuddyArena handle: freeze twice", IllegalStateException.class, "already frozen", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                arena.freezeHandle(h, 8);
                return buddyHandleScene(arena, h).misuse(() -> arena.freezeHandle(h, 16));
            }),
            misuse("BuddyArena handle: retain before freeze", IllegalStateException.class, "freeze", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                return buddyHandleScene(arena, h).misuse(() -> arena.retain(h));
            }),
            misuse("BuddyArena handle: frozen length larger than its block", IllegalArgumentException.class, "129", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                return buddyHandleScene(arena, h).misuse(() -> arena.freezeHandle(h, 129));
            }),
            misuse("BuddyArena handle: frozen length -1", IllegalArgumentException.class, "-1", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                return buddyHandleScene(arena, h).misuse(() -> arena.freezeHandle(h, -1));
            }),
            misuse("BuddyArena handle: putLong past its block", IndexOutOfBoundsException.class, "index=124", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                return buddyHandleScene(arena, h).misuse(() -> arena.putLong(h, 124, 1L));
            }),
            misuse("BuddyArena handle: putInt at a negative index", IndexOutOfBoundsException.class, "index=-4", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                return buddyHandleScene(arena, h).misuse(() -> arena.putInt(h, -4, 1));
            }),
            misuse("BuddyArena handle: putBytes longer than its block", IndexOutOfBoundsException.class, "length=129", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                return buddyHandleScene(arena, h).misuse(() -> arena.putBytes(h, 0, new byte[129], 0, 129));
            }),
            misuse("BuddyArena handle: putBytes with a source range outside the array", IndexOutOfBoundsException.class, "4", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                return buddyHandleScene(arena, h).misuse(() -> arena.putBytes(h, 0, new byte[4], 2, 4));
            }),
            misuse("BuddyArena handle: putBytes from a released Bytes", StaleHandleException.class, "released", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                final Bytes gone = arena.allocate(64).putLong(9L).freeze();
                gone.release();
                return buddyHandleScene(arena, h).misuse(() -> arena.putBytes(h, 0, gone, 0, 8));
            }),
            misuse("BuddyArena handle: getLong past the frozen length", IndexOutOfBoundsException.class, "index=4", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                arena.freezeHandle(h, 8);
                return buddyHandleScene(arena, h).misuse(() -> arena.getLong(h, 4));
            }),
            misuse("BuddyArena handle: getBytes past the frozen length into an Agrona buffer", IndexOutOfBoundsException.class, "length=16", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                arena.freezeHandle(h, 8);
                final UnsafeBuffer dst = new UnsafeBuffer(new byte[32]);
                final Scene s = buddyHandleScene(arena, h);
                final Supplier<Object> arenaState = s.state;
                final Runnable next = s.next;
                return s.state(() -> arenaState.get() + " dst=" + dst.getLong(0) + dst.getLong(8))
                    .misuse(() -> arena.getBytes(h, 0, dst, 0, 16))
                    .next(() ->
                    {
                        next.run();
                        arena.getBytes(h, 0, dst, 0, 8);
                        assertEquals(5L, dst.getLong(0));
                    });
            }),
            misuse("BuddyArena handle: getBytes into an expandable buffer at index -1", IndexOutOfBoundsException.class, "-1", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                final ExpandableArrayBuffer dst = new ExpandableArrayBuffer(16);
                final Scene s = buddyHandleScene(arena, h);
                final Supplier<Object> arenaState = s.state;
                return s.state(() -> arenaState.get() + " dst=" + dst.capacity() + "/" + dst.getLong(0))
                    .misuse(() -> arena.getBytes(h, 0, dst, -1, 8));
            }),
            misuse("BuddyArena handle: getBytes into a too small array", IndexOutOfBoundsException.class, "8", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                return buddyHandleScene(arena, h).misuse(() -> arena.getBytes(h, 0, new byte[4], 0, 8));
            }),
            misuse("BuddyArena handle: NO_HANDLE", StaleHandleException.class, "not a handle", () ->
            {
                final BuddyArena arena = buddy();
                return buddyScene(arena, buddy77(arena)).misuse(() -> arena.getLong(BuddyArena.NO_HANDLE, 0));
            }),
            misuse("BuddyArena handle: a made-up handle", StaleHandleException.class, "not a handle", () ->
            {
                final BuddyArena arena = buddy();
                return buddyScene(arena, buddy77(arena)).misuse(() -> arena.release(-42L));
            }),
            misuse("BuddyArena handle: inside a live block, not its start", StaleHandleException.class, "released", () ->
            {
                final BuddyArena arena = buddy();
                final long h = buddyHandle5(arena);
                final long inside = h + 1; // the next minimum block of the same 128-byte block, same generation
                return buddyHandleScene(arena, h).misuse(() -> arena.putLong(inside, 0, 1L));
            }),
            misuse("BuddyArena handle: a handle of another arena", StaleHandleException.class, "not a handle", () ->
            {
                final BuddyArena arena = buddy();
                final BuddyArena big = BuddyArena.builder(4096, 64).build();
                final long[] held = new long[64];
                for (int i = 0; i < 64; i++)
                {
                    held[i] = big.allocateHandle(64);
                }
                long foreign = BuddyArena.NO_HANDLE;
                for (final long x : held)
                {
                    if ((int)(x & 0xFFF_FFFF) >= 16)
                    {
                        foreign = x; // a slot beyond this arena's 16
                    }
                }
                final long beyond = foreign;
                return buddyScene(arena, buddy77(arena)).own(big).own(() -> { for (final long x : held) { big.release(x); } })
                    .misuse(() -> arena.putLong(beyond, 0, 1L));
            }));
    }

    // ---------------------------------------------------------------------------------------- SliceAllocator

    private static String sliceState(final SliceAllocator alloc)
    {
        return alloc.stats().toString();
    }

    /** A LONG allocator with one live slice [10, 11, 12, 13]. */
    private static Scene sliceScene(final SliceAllocator alloc, final SharedSlice live)
    {
        return new Scene().own(alloc).own(() -> { if (!live.isReleased()) { live.release(); } })
            .state(() -> sliceState(alloc) + " live=" + live.getLong(3))
            .next(() ->
            {
                assertEquals(13L, live.getLong(3));
                alloc.allocateLongs(2, i -> i).release();
            });
    }

    private static SliceAllocator longs()
    {
        return SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
    }

    private static Stream<Arguments> slices()
    {
        return Stream.of(
            misuse("SliceAllocator: negative length", IllegalArgumentException.class, "-1", () ->
            {
                final SliceAllocator alloc = longs();
                return sliceScene(alloc, alloc.allocateLongs(4, i -> 10 + i)).misuse(() -> alloc.allocateLongs(-1, i -> 0));
            }),
            misuse("SliceAllocator: huge length (beyond the largest chunk)", IllegalArgumentException.class, "2147483647", () ->
            {
                final SliceAllocator alloc = longs();
                return sliceScene(alloc, alloc.allocateLongs(4, i -> 10 + i))
                    .misuse(() -> alloc.allocateLongs(Integer.MAX_VALUE, i -> 0));
            }),
            misuse("SliceAllocator: wrong element type for the layout", IllegalStateException.class, "layout", () ->
            {
                final SliceAllocator alloc = longs();
                return sliceScene(alloc, alloc.allocateLongs(4, i -> 10 + i)).misuse(() -> alloc.allocateInts(2, i -> i));
            }),
            misuse("SliceAllocator: allocation from another thread (strict mode)", IllegalStateException.class, "confined", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return sliceScene(alloc, live).misuse(() ->
                {
                    try
                    {
                        CompletableFuture.runAsync(() -> alloc.allocateLongs(1, i -> 0)).get();
                    }
                    catch (final ExecutionException ex)
                    {
                        throw (RuntimeException)ex.getCause();
                    }
                    catch (final InterruptedException ex)
                    {
                        throw new AssertionError(ex);
                    }
                });
            }),
            misuse("SliceAllocator: allocation after close", IllegalStateException.class, "closed", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                alloc.close();
                return new Scene().own(live::release).state(() -> sliceState(alloc) + " " + live.getLong(3))
                    .misuse(() -> alloc.allocateLongs(1, i -> 0))
                    .next(() -> assertEquals(13L, live.getLong(3)));
            }),
            misuse("SharedSlice: read after release", StaleHandleException.class, "released", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final SharedSlice gone = live.share();
                gone.release();
                return sliceScene(alloc, live).misuse(() -> gone.getLong(0));
            }),
            misuse("SharedSlice: double release (other handles unaffected)", StaleHandleException.class, "double release", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final SharedSlice gone = live.share();
                gone.release();
                return sliceScene(alloc, live).misuse(gone::release);
            }),
            misuse("SharedSlice: share after release", StaleHandleException.class, "released", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final SharedSlice gone = live.share();
                gone.release();
                return sliceScene(alloc, live).misuse(gone::share);
            }),
            misuse("SharedSlice: index out of bounds", IndexOutOfBoundsException.class, "4", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return sliceScene(alloc, live).misuse(() -> live.getLong(4));
            }),
            misuse("SharedSlice: toSingle of a slice of 4", IllegalArgumentException.class, "length 1", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return sliceScene(alloc, live).misuse(live::toSingle);
            }),
            misuse("SharedSingle: read after release", StaleHandleException.class, "released", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final SharedSingle gone = alloc.allocateValue(5L);
                gone.release();
                return sliceScene(alloc, live).misuse(gone::getLong);
            }),
            misuse("SharedSingle: wrong element type", IllegalStateException.class, "INT", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final SharedSingle single = alloc.allocateValue(5L);
                return sliceScene(alloc, live).own(single::release).misuse(single::getInt)
                    .next(() -> assertEquals(5L, single.getLong()));
            }),
            misuse("SliceView (buffer()): read after its handle was released", StaleHandleException.class, "released", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final SharedSlice gone = live.share();
                final DirectBuffer view = gone.buffer();
                gone.release();
                return sliceScene(alloc, live).misuse(() -> view.getLong(0));
            }),
            misuse("SliceView (buffer()): read past the slice", IndexOutOfBoundsException.class, "32", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return sliceScene(alloc, live).misuse(() -> live.buffer().getLong(32));
            }),
            misuse("SliceView (buffer()): wrap", UnsupportedOperationException.class, "wrap", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return sliceScene(alloc, live).misuse(() -> live.buffer().wrap(new byte[8]));
            }),
            misuse("ElementLayout: record of size 0", IllegalArgumentException.class, "0", () ->
                new Scene().misuse(() -> ElementLayout.record(0, 8)).next(() -> ElementLayout.record(8, 8))),
            misuse("ElementLayout: record alignment 6", IllegalArgumentException.class, "6", () ->
                new Scene().misuse(() -> ElementLayout.record(8, 6)).next(() -> ElementLayout.record(8, 8))),
            misuse("SliceAllocator: chunk capacity 0", IllegalArgumentException.class, "0", () ->
                new Scene().misuse(() -> SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(0))
                    .next(() -> longs().close())));
    }

    private static Stream<Arguments> sliceRefs()
    {
        return Stream.of(
            misuse("slice ref: read after release", StaleHandleException.class, "released", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long gone = alloc.allocateLongsRef(2, i -> i);
                alloc.release(gone);
                return sliceScene(alloc, live).misuse(() -> alloc.getLong(gone, 0));
            }),
            misuse("slice ref: retain after release", StaleHandleException.class, "released", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long gone = alloc.allocateLongsRef(2, i -> i);
                alloc.release(gone);
                return sliceScene(alloc, live).misuse(() -> alloc.retain(gone));
            }),
            misuse("slice ref: index out of bounds", IndexOutOfBoundsException.class, "2", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long ref = alloc.allocateLongsRef(2, i -> i);
                return sliceScene(alloc, live).own(() -> alloc.release(ref)).misuse(() -> alloc.getLong(ref, 2));
            }),
            misuse("slice ref: its chunk was freed", StaleHandleException.class, "stale", () ->
            {
                final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(4).build();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long gone = alloc.allocateLongsRef(8, i -> i); // larger than a chunk: a dedicated chunk
                alloc.release(gone); // its last reference: the dedicated chunk is freed
                return sliceScene(alloc, live).misuse(() -> alloc.getLong(gone, 0));
            }),
            misuse("slice ref: a made-up reference", StaleHandleException.class, "stale", () ->
            {
                final SliceAllocator alloc = longs();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return sliceScene(alloc, live).misuse(() -> alloc.release(0x7FFF_0000_0000_0010L));
            }));
    }

    // ------------------------------------------------------------------------------------------- SliceReader

    /** The slice scene with a reader, whose binding is part of the state; closed (if bound) before the slice. */
    private static Scene readerScene(final SliceAllocator alloc, final SharedSlice live, final SliceReader reader)
    {
        final Scene s = sliceScene(alloc, live);
        final Supplier<Object> slices = s.state;
        return s.own(() -> { if (reader.isBound()) { reader.close(); } }).state(() -> slices.get() + " " + reader);
    }

    /** Then the scene's next operation, then {@code more}. */
    private static Scene andThen(final Scene s, final Runnable more)
    {
        final Runnable next = s.next;
        return s.next(() ->
        {
            next.run();
            more.run();
        });
    }

    /** Runs {@code action} on another thread and throws what it threw. */
    private static void onAnotherThread(final Runnable action)
    {
        try
        {
            CompletableFuture.runAsync(action).get();
        }
        catch (final ExecutionException ex)
        {
            throw (RuntimeException)ex.getCause();
        }
        catch (final InterruptedException ex)
        {
            throw new AssertionError(ex);
        }
    }

    private static Stream<Arguments> sliceReader()
    {
        return Stream.of(
            misuse("SliceReader: read while never bound", StaleHandleException.class, "not bound", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return andThen(readerScene(alloc, live, reader).misuse(() -> reader.getLong(0)), () ->
                {
                    final long ref = alloc.allocateLongsRef(2, i -> 20 + i);
                    try (SliceReader r = reader.adopt(alloc, ref))
                    {
                        assertEquals(21L, r.getLong(1));
                    }
                });
            }),
            misuse("SliceReader: read after close", StaleHandleException.class, "not bound", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long ref = alloc.allocateLongsRef(2, i -> 20 + i);
                reader.adopt(alloc, ref).close();
                return andThen(readerScene(alloc, live, reader).misuse(() -> reader.getLong(0)), () ->
                {
                    try (SliceReader r = reader.adopt(alloc, alloc.allocateLongsRef(1, i -> 7)))
                    {
                        assertEquals(7L, r.getLong(0));
                    }
                });
            }),
            misuse("SliceReader: length() after close", StaleHandleException.class, "not bound", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                reader.adopt(alloc, alloc.allocateLongsRef(4, i -> 10 + i)).close();
                return readerScene(alloc, live, reader).misuse(reader::length);
            }),
            misuse("SliceReader: double close", StaleHandleException.class, "double close", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                alloc.allocateLocalLongs(2, i -> i, reader).close();
                return readerScene(alloc, live, reader).misuse(reader::close);
            }),
            misuse("SliceReader: bind while bound (the caller keeps its count)", IllegalStateException.class, "is bound", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long first = alloc.allocateLongsRef(2, i -> 20 + i);
                final long second = alloc.allocateLongsRef(2, i -> 30 + i);
                reader.adopt(alloc, first);
                return andThen(readerScene(alloc, live, reader).own(() -> alloc.release(second))
                    .state(() -> sliceState(alloc) + " " + reader + " " + reader.getLong(1) + " " + alloc.getLong(second, 1))
                    .misuse(() -> reader.bind(alloc, second)), () ->
                {
                    assertEquals(21L, reader.getLong(1), "still bound to the first slice");
                    reader.close();
                    assertFalse(alloc.isLive(first));
                    assertEquals(31L, alloc.getLong(second, 1), "no count was added to the second");
                });
            }),
            misuse("SliceReader: adopt while bound (the caller still owns its count)", IllegalStateException.class, "is bound", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long second = alloc.allocateLongsRef(2, i -> 30 + i);
                alloc.allocateLocalLongs(3, i -> 40 + i, reader);
                return andThen(readerScene(alloc, live, reader)
                    .state(() -> sliceState(alloc) + " " + reader + " " + reader.getLong(2) + " " + alloc.getLong(second, 1))
                    .misuse(() -> reader.adopt(alloc, second)), () ->
                {
                    assertEquals(42L, reader.getLong(2));
                    alloc.release(second); // the caller's count: the failed adopt did not take it
                    assertFalse(alloc.isLive(second));
                });
            }),
            misuse("SliceReader: bind a released reference", StaleHandleException.class, "released", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long gone = alloc.allocateLongsRef(2, i -> i);
                alloc.release(gone);
                return readerScene(alloc, live, reader).misuse(() -> reader.bind(alloc, gone));
            }),
            misuse("SliceReader: adopt a reference whose chunk was freed", StaleHandleException.class, "stale", () ->
            {
                final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(4).build();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long gone = alloc.allocateLongsRef(8, i -> i); // larger than a chunk: a dedicated chunk
                alloc.release(gone); // its last reference: the dedicated chunk is freed
                return readerScene(alloc, live, reader).misuse(() -> reader.adopt(alloc, gone));
            }),
            misuse("SliceReader: bind a made-up reference", StaleHandleException.class, "stale", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return readerScene(alloc, live, reader).misuse(() -> reader.bind(alloc, 0x7FFF_0000_0000_0010L));
            }),
            misuse("SliceReader: bind a reference of another allocator", StaleHandleException.class, "stale", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long mine = alloc.allocateLongsRef(2, i -> 20 + i); // this allocator's table has a chunk too
                final SliceAllocator other = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
                final long foreign = other.allocateLongsRef(2, i -> 50 + i);
                return readerScene(alloc, live, reader).own(() -> alloc.release(mine), other, () -> other.release(foreign))
                    .misuse(() -> reader.bind(alloc, foreign));
            }),
            misuse("SliceReader: getLong past the slice", IndexOutOfBoundsException.class, "index 4", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                reader.adopt(alloc, alloc.allocateLongsRef(4, i -> 10 + i)); // the reader owns the count
                return andThen(readerScene(alloc, live, reader).misuse(() -> reader.getLong(4)),
                    () -> assertEquals(13L, reader.getLong(3)));
            }),
            misuse("SliceReader: getLong at -1", IndexOutOfBoundsException.class, "-1", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                alloc.allocateLocalLongs(2, i -> 60 + i, reader);
                return andThen(readerScene(alloc, live, reader).misuse(() -> reader.getLong(-1)),
                    () -> assertEquals(60L, reader.getLong(0)));
            }),
            misuse("SliceReader: getLong(0) of the empty slice (no chunk behind it)", IndexOutOfBoundsException.class, "index 0", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                reader.bind(alloc, SliceAllocator.EMPTY_REF);
                return readerScene(alloc, live, reader).misuse(() -> reader.getLong(0));
            }),
            misuse("SliceReader: getBytes of the empty slice", IndexOutOfBoundsException.class, "slice of 0", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                alloc.allocateLocalLongs(0, i -> 0, reader);
                return readerScene(alloc, live, reader).misuse(() -> reader.getBytes(0, new UnsafeBuffer(new byte[8]), 0, 1));
            }),
            misuse("SliceReader: getInt of a LONG slice (wrong layout)", IllegalStateException.class, "INT", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                reader.adopt(alloc, alloc.allocateLongsRef(4, i -> 10 + i)); // the reader owns the count
                return readerScene(alloc, live, reader).misuse(() -> reader.getInt(0));
            }),
            misuse("SliceReader: getLongs of a DOUBLE slice (wrong layout)", IllegalStateException.class, "LONG", () ->
            {
                final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.DOUBLE).chunkCapacity(64).build();
                final SliceReader reader = new SliceReader();
                alloc.allocateLocalDoubles(2, i -> 1.5 * i, reader);
                final long[] dst = new long[2];
                return new Scene().own(alloc).own(() -> { if (reader.isBound()) { reader.close(); } })
                    .state(() -> sliceState(alloc) + " " + reader + " " + Arrays.toString(dst))
                    .misuse(() -> reader.getLongs(0, dst, 0, 2))
                    .next(() -> assertEquals(1.5, reader.getDouble(1)));
            }),
            misuse("SliceReader: getLongs past the slice (nothing copied)", IndexOutOfBoundsException.class, "outside the slice", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                reader.adopt(alloc, alloc.allocateLongsRef(4, i -> 10 + i)); // the reader owns the count
                final long[] dst = new long[8];
                final Scene s = readerScene(alloc, live, reader);
                final Supplier<Object> state = s.state;
                return andThen(s.state(() -> state.get() + Arrays.toString(dst)).misuse(() -> reader.getLongs(2, dst, 0, 3)),
                    () ->
                    {
                        reader.getLongs(2, dst, 0, 2);
                        assertEquals(13L, dst[1]);
                    });
            }),
            misuse("SliceReader: getLongs into a too small array (nothing copied)", IndexOutOfBoundsException.class, "destination of 2", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                reader.adopt(alloc, alloc.allocateLongsRef(4, i -> 10 + i)); // the reader owns the count
                final long[] dst = new long[2];
                final Scene s = readerScene(alloc, live, reader);
                final Supplier<Object> state = s.state;
                return s.state(() -> state.get() + Arrays.toString(dst)).misuse(() -> reader.getLongs(0, dst, 0, 4));
            }),
            misuse("SliceReader: getLongs with a negative count", IndexOutOfBoundsException.class, "-1", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                reader.adopt(alloc, alloc.allocateLongsRef(4, i -> 10 + i)); // the reader owns the count
                return readerScene(alloc, live, reader).misuse(() -> reader.getLongs(0, new long[4], 0, -1));
            }),
            misuse("SliceReader: getBytes past the slice's data (nothing copied)", IndexOutOfBoundsException.class, "outside the slice", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                alloc.allocateLocalLongs(2, i -> 60 + i, reader);
                final UnsafeBuffer dst = new UnsafeBuffer(new byte[64]);
                final Scene s = readerScene(alloc, live, reader);
                final Supplier<Object> state = s.state;
                return andThen(s.state(() -> state.get() + " dst=" + dst.getLong(0) + "," + dst.getLong(8) + "," + dst.getLong(16))
                    .misuse(() -> reader.getBytes(8, dst, 0, 16)), () ->
                {
                    reader.getBytes(8, dst, 0, 8);
                    assertEquals(61L, dst.getLong(0));
                });
            }),
            misuse("SliceReader: getBytes after close", StaleHandleException.class, "not bound", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                reader.adopt(alloc, alloc.allocateLongsRef(4, i -> 10 + i)).close();
                final UnsafeBuffer dst = new UnsafeBuffer(new byte[64]);
                return readerScene(alloc, live, reader).misuse(() -> reader.getBytes(0, dst, 0, 8));
            }),
            misuse("SliceReader: local slice into a bound reader (nothing allocated)", IllegalStateException.class, "is bound", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                alloc.allocateLocalLongs(2, i -> 60 + i, reader);
                return andThen(readerScene(alloc, live, reader).misuse(() -> alloc.allocateLocalLongs(3, i -> 0, reader)),
                    () -> assertEquals(61L, reader.getLong(1)));
            }),
            misuse("SliceReader: local slice of the wrong layout", IllegalStateException.class, "layout", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return readerScene(alloc, live, reader).misuse(() -> alloc.allocateLocalInts(2, i -> i, reader));
            }),
            misuse("SliceReader: local slice of length -1", IllegalArgumentException.class, "-1", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return readerScene(alloc, live, reader).misuse(() -> alloc.allocateLocalLongs(-1, i -> 0, reader));
            }),
            misuse("SliceReader: local slice of a huge length", IllegalArgumentException.class, "2147483647", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return readerScene(alloc, live, reader).misuse(() -> alloc.allocateLocalLongs(Integer.MAX_VALUE, i -> 0, reader));
            }),
            misuse("SliceReader: local slice whose initializer throws (reader stays unbound)", IllegalStateException.class, "init failed", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return readerScene(alloc, live, reader).misuse(() -> alloc.allocateLocalLongs(3, i ->
                {
                    if (i == 2)
                    {
                        throw new IllegalStateException("init failed");
                    }
                    return i;
                }, reader));
            }),
            misuse("SliceReader: local slice whose initializer binds the reader", IllegalStateException.class, "bound by the initializer", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long ref = alloc.allocateLongsRef(2, i -> 20 + i);
                // the initializer's own bind stands (it is the caller's code); the slice being made is given back
                return andThen(new Scene().own(alloc).own(() -> { if (!live.isReleased()) { live.release(); } })
                    .own(() -> { if (reader.isBound()) { reader.close(); } }, () -> alloc.release(ref))
                    .state(() -> sliceState(alloc) + " live=" + live.getLong(3))
                    .misuse(() -> alloc.allocateLocalLongs(2, i ->
                    {
                        if (!reader.isBound())
                        {
                            reader.bind(alloc, ref);
                        }
                        return i;
                    }, reader)), () ->
                {
                    assertEquals(13L, live.getLong(3));
                    assertEquals(21L, reader.getLong(1), "bound by the initializer, to its reference");
                });
            }),
            misuse("SliceReader: local slice after the allocator closed", IllegalStateException.class, "closed", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                alloc.close();
                return new Scene().own(live::release).state(() -> sliceState(alloc) + " " + reader + " " + live.getLong(3))
                    .misuse(() -> alloc.allocateLocalLongs(1, i -> 0, reader))
                    .next(() -> assertEquals(13L, live.getLong(3)));
            }),
            misuse("SliceReader: local slice from another thread (strict mode)", IllegalStateException.class, "confined", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                return readerScene(alloc, live, reader)
                    .misuse(() -> onAnotherThread(() -> alloc.allocateLocalLongs(1, i -> 0, reader)));
            }),
            misuse("SliceReader: close a local slice on another thread (strict mode: it stays bound)", IllegalStateException.class, "allocator's thread", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                alloc.allocateLocalLongs(2, i -> 60 + i, reader);
                return andThen(readerScene(alloc, live, reader).misuse(() -> onAnotherThread(reader::close)), () ->
                {
                    assertEquals(61L, reader.getLong(1));
                    reader.close();
                });
            }),
            misuse("SliceReader: bind a forged reference to a local slice", StaleHandleException.class, "released", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long ref = alloc.allocateLongsRef(2, i -> 20 + i);
                final SliceReader local = alloc.allocateLocalLongs(2, i -> 60 + i, new SliceReader());
                final long forged = ref + (2 * Long.BYTES + 8) / 8; // past ref's 2 longs and the local slice's header
                final Scene s = readerScene(alloc, live, reader).own(() -> alloc.release(ref), local);
                final Supplier<Object> state = s.state;
                return andThen(s.state(() -> state.get() + " local=" + local.getLong(0) + "," + local.getLong(1))
                    .misuse(() -> reader.bind(alloc, forged)), () -> assertEquals(61L, local.getLong(1)));
            }),
            misuse("SliceReader: the allocator handed over while a reader holds a local slice", IllegalStateException.class, "local slice", () ->
            {
                final SliceAllocator alloc = longs();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                alloc.allocateLocalLongs(2, i -> 60 + i, reader);
                return andThen(readerScene(alloc, live, reader).misuse(() -> onAnotherThread(alloc::bindToCurrentThread)),
                    () ->
                    {
                        assertEquals(61L, reader.getLong(1));
                        reader.close(); // on the owner: still the owner
                    });
            }),
            misuse("SliceReader: close after a holder released its count (the chunk went)", StaleHandleException.class, "freed or reused", () ->
            {
                final SliceAllocator alloc = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(4).build();
                final SliceReader reader = new SliceReader();
                final SharedSlice live = alloc.allocateLongs(4, i -> 10 + i);
                final long ref = alloc.allocateLongsRef(8, i -> i); // a dedicated chunk
                reader.adopt(alloc, ref);
                alloc.release(ref); // misuse first: the count was the reader's; this frees the chunk under it
                // documented: the reader is unbound either way, and releases nothing; the allocator is unchanged
                return andThen(sliceScene(alloc, live).misuse(reader::close), () ->
                {
                    assertFalse(reader.isBound());
                    try (SliceReader r = reader.adopt(alloc, alloc.allocateLongsRef(4, i -> 10 + i)))
                    {
                        assertEquals(13L, r.getLong(3));
                    }
                });
            }));
    }

    // ------------------------------------------------------------------------------------------------ Region

    private static Stream<Arguments> region()
    {
        final Stream<Arguments> always = Stream.of(
            misuse("Region: checkOpen after close", IllegalStateException.class, "closed", () ->
            {
                final Region region = Region.allocate(64);
                region.close();
                return new Scene().own(region).state(NativeMemory::reservedBytes).misuse(region::checkOpen)
                    .next(() -> Region.allocate(8).close());
            }),
            // NIO's own index exceptions carry no message; moving the position shows the view shrank to nothing
            misuse("Region: NIO view after close (capacity 0, NIO's own checks)", IllegalArgumentException.class, "1 > 0", () ->
            {
                final Region region = Region.allocate(64);
                final java.nio.ByteBuffer nio = region.byteBuffer();
                region.close();
                return new Scene().own(region).state(NativeMemory::reservedBytes).misuse(() -> nio.position(1))
                    .next(() -> Region.allocate(8).close());
            }),
            misuse("Region: size 0", IllegalArgumentException.class, "0", () ->
                new Scene().misuse(() -> Region.allocate(0)).next(() -> Region.allocate(8).close())),
            misuse("Region: huge size", IllegalArgumentException.class, "2147483648", () ->
                new Scene().misuse(() -> Region.allocate(1L << 31)).next(() -> Region.allocate(8).close())),
            misuse("Region: alignment 3", IllegalArgumentException.class, "3", () ->
                new Scene().misuse(() -> Region.builder(64).alignment(3)).next(() -> Region.allocate(8).close())));
        if (!UnsafeBuffer.SHOULD_BOUNDS_CHECK)
        {
            // The raw region buffer is the primitive tier: after close it shrinks to capacity 0 and relies on
            // Agrona's bounds checks (docs/memory.md). Without them that case is not a guarantee: not run.
            return always;
        }
        return Stream.concat(always, Stream.of(
            misuse("Region: raw Agrona view after close (Agrona's checks)", IndexOutOfBoundsException.class, "length 0", () ->
            {
                final Region region = Region.allocate(64);
                final UnsafeBuffer raw = region.buffer();
                region.close();
                return new Scene().own(region).state(NativeMemory::reservedBytes).misuse(() -> raw.getLong(0))
                    .next(() -> Region.allocate(8).close());
            })));
    }

    // ------------------------------------------------------------------------------------------- ThreadLakes

    private static Stream<Arguments> threadLakes()
    {
        return Stream.of(
            misuse("ThreadLakes: current() before init() without autoInit", IllegalStateException.class, "init()", () ->
            {
                final ThreadLakes lakes = ThreadLakes.builder(4096).build();
                return new Scene().own(lakes, lakes::release).state(lakes::stats).misuse(lakes::current)
                    .next(() -> lakes.init().allocate(8));
            }),
            misuse("ThreadLakes: init() after close", IllegalStateException.class, "closed", () ->
            {
                final ThreadLakes lakes = ThreadLakes.builder(4096).build();
                lakes.close();
                return new Scene().own(lakes).state(lakes::stats).misuse(lakes::init)
                    .next(() -> { try (ThreadLakes fresh = ThreadLakes.builder(4096).build()) { fresh.init(); fresh.release(); } });
            }),
            misuse("ThreadLakes: droplet kept past release() (the lake was reset)", StaleHandleException.class, "no longer valid", () ->
            {
                final ThreadLakes lakes = ThreadLakes.builder(4096).build();
                final Droplet gone = lakes.init().droplet(16);
                lakes.release();
                return new Scene().own(lakes).state(lakes::stats).misuse(() -> gone.getLong(0))
                    .next(() -> { lakes.init().allocate(8); lakes.release(); });
            }),
            misuse("ThreadLakes: lake capacity 0", IllegalArgumentException.class, "0", () ->
                new Scene().misuse(() -> ThreadLakes.builder(0)).next(() -> ThreadLakes.builder(64).build().close())),
            misuse("ThreadLakes: negative pool bound", IllegalArgumentException.class, "-1", () ->
                new Scene().misuse(() -> ThreadLakes.builder(64).poolBound(-1)).next(() -> ThreadLakes.builder(64).build().close())));
    }
}
