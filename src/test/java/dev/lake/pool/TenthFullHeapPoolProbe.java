package dev.lake.pool;

import dev.lake.memory.NativeMemory;
import dev.lake.slice.ElementLayout;
import dev.lake.slice.SharedSlice;
import dev.lake.slice.SliceAllocator;
import dev.lake.testing.HeapFiller;

import java.lang.reflect.Field;
import java.util.Arrays;

/**
 * Child JVM of {@link TenthFullHeapPoolTest}: closes pool arenas and slice allocators, and releases what they still
 * had live after the close, on a small heap filled to the brim, letting go of one heap filler before each retry so
 * that an {@link OutOfMemoryError} meets each heap allocation of {@code close()} and of the last release in turn.
 * Each mode runs in a fresh JVM, so its close is the first of its kind there (what that close links or resolves
 * meets the full heap).
 *
 * <p>The contract checked: a {@code close()} either frees the native memory now (when nothing is live) or throws with
 * the allocator still open, so a retry frees it; the last release after close frees the region, or throws with the
 * reference still held, so a retry frees it. Never a closed allocator whose memory waits for a GC and counts as a
 * leak.
 *
 * <p>Modes: {@code KIND-close} (nothing live, the close frees), {@code KIND-release} (a live allocation, the close on
 * the full heap, then its release on the full heap), {@code KIND-closed-release} (the close on a heap with room, then
 * the release on the full heap), for KIND {@code fixed}, {@code fixed-jfr}, {@code fixed-handle}, {@code buddy},
 * {@code buddy-jfr}, {@code buddy-handle}, {@code slice}, {@code slice-ref}; and {@code fixed-parked-close} (another
 * arena closed first on a heap with room, then one holding a parked slot closed on the full heap); and
 * {@code fixed-waiter-close} and {@code fixed-waiter-release}, a request waiting when its arena closes or its slot
 * is released (see their methods; {@code EleventhFullHeapPoolTest}).
 * Prints
 * {@code probe: MODE broken B leaks L left-regions N refused R late-throws T live-bytes S}: {@code broken} counts
 * refusals that left the allocator closed (or the reference released) with its memory held; {@code leaks} the safety
 * net's count meanwhile; {@code left-regions} the regions still held once everything was closed and released (read
 * before the heap is freed, so before any GC the end could trigger); {@code late-throws} releases that threw with
 * their work done (a retry is then a double release); {@code live-bytes} what a slice allocator's stats still count
 * live at the end.
 */
public final class TenthFullHeapPoolProbe
{
    /** Made before the heap fills: the room the refused closes left is filled into it before the releases. */
    private static final Object[] TOP_UP = new Object[1 << 16];
    private static int topUps;
    private static int broken;
    private static int lateThrows;
    private static int refused;
    /** Diagnostics: the refusals met, printed at the end with {@code -Dprobe.verbose=true}. */
    private static final Throwable[] SEEN = new Throwable[256];
    private static final long[] SEEN_REGIONS = new long[256];
    private static final boolean[] SEEN_STATE = new boolean[256];

    private TenthFullHeapPoolProbe()
    {
    }

    /** One allocator under test, made and used through plain calls (no lambda is linked on the full heap). */
    private abstract static class Subject
    {
        abstract void allocate();

        abstract void close();

        abstract boolean isClosed();

        abstract void release();

        abstract boolean isReleased();

        /** @return "hook-removed B" for an arena with a JFR hook (read by reflection: the recorder does not say). */
        String hook()
        {
            return "";
        }

        /** @return what the allocator's stats count as live once everything was released, or 0. */
        long liveBytes()
        {
            return 0;
        }
    }

    public static void main(final String[] args)
    {
        final String mode = args[0];
        if (mode.equals("fixed-waiter-close"))
        {
            waiterClose();
            return;
        }
        if (mode.equals("fixed-waiter-release"))
        {
            waiterRelease();
            return;
        }
        final long regions = NativeMemory.liveRegions();
        final long leaksBefore = NativeMemory.leaks();
        final int dash = mode.lastIndexOf('-');
        final String step = mode.endsWith("-closed-release") ? "closed-release" : mode.substring(dash + 1);
        final String kind = mode.substring(0, mode.length() - step.length() - 1);
        final boolean parked = kind.equals("fixed-parked");
        if (parked)
        {
            // another arena's close links what every close runs, on a heap with room: the full heap then meets
            // only what a close with a parked slot adds
            FixedArena.builder(1, 8).build().close();
        }
        final boolean prelinked = kind.endsWith("-prelinked");
        if (prelinked)
        {
            // an arena of the same kind without the JFR hook allocates, releases and closes on a heap with room
            final SlotArena other = kind.startsWith("fixed") ?
                FixedArena.builder(1, 8).build() : BuddyArena.builder(256, 64).build();
            final Subject warm = bytesOf(other);
            warm.allocate();
            warm.release();
            warm.close();
        }
        final Subject subject = subject(parked ? "fixed-handle" : prelinked ? kind.replace("-prelinked", "") : kind);
        final boolean live = !step.equals("close");
        if (live || parked)
        {
            subject.allocate();
        }
        if (parked)
        {
            subject.release(); // the handle tier's release parks the slot (UNINIT)
        }
        if (step.equals("closed-release"))
        {
            subject.close();
        }
        // the probe's own queries are linked here, on a heap with room: on the full heap they only read
        subject.isClosed();
        if (live)
        {
            subject.isReleased();
        }
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        closeOnFullHeap(subject, fillers, live ? -1 : regions);
        if (live)
        {
            // what the close's refused tries left behind is garbage now: fill that room too, so the release meets a
            // full heap from its first step
            topUp();
            releaseOnFullHeap(subject, fillers, regions);
        }
        final long left = NativeMemory.liveRegions() - regions;
        final long leaks = NativeMemory.leaks() - leaksBefore;
        fillers.freeAll();
        Arrays.fill(TOP_UP, null);
        System.out.println("probe: " + mode + " broken " + broken + " leaks " + leaks + " left-regions " + left +
            " refused " + refused +
            " late-throws " + lateThrows + " live-bytes " + subject.liveBytes() + subject.hook());
        if (Boolean.getBoolean("probe.verbose"))
        {
            for (int i = 0; i < Math.min(refused, SEEN.length); i++)
            {
                System.out.println("refusal " + i + " done=" + SEEN_STATE[i] + " regions=" + SEEN_REGIONS[i]);
                SEEN[i].printStackTrace(System.out);
            }
        }
        System.out.flush();
    }

    /**
     * A request waiting for the only slot when its holder releases it on a full heap, the release retried after each
     * refusal with one heap filler let go; then the heap is freed and a second request is queued (which runs the
     * dispatcher again). Prints {@code probe: fixed-waiter-release refused R first-served F second-waits W}: F whether
     * the first request got the slot once the heap had room, W whether the second one waits (the slot is the first's).
     * Before the fix the dispatcher's first log call in the JVM loaded {@code LakeLog} on the full heap, the refusal
     * escaped its failure handler and left it wedged: no request was ever served again (F false).
     */
    private static void waiterRelease()
    {
        final FixedArena arena = FixedArena.builder(1, 8).build();
        final Buffer held = arena.allocate();
        final java.util.concurrent.CompletableFuture<Buffer> first = arena.allocateAsync();
        held.isWritable(); // the probe's own query, linked on a heap with room
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        while (held.isWritable())
        {
            try
            {
                held.close();
            }
            catch (final OutOfMemoryError full)
            {
                SEEN[refused] = full;
                refused++;
                if (!fillers.freeOne())
                {
                    break;
                }
            }
        }
        fillers.freeAll();
        if (Boolean.getBoolean("probe.verbose"))
        {
            for (int i = 0; i < refused; i++)
            {
                SEEN[i].printStackTrace(System.out);
            }
        }
        final java.util.concurrent.CompletableFuture<Buffer> second = arena.allocateAsync();
        final boolean served = first.isDone() && !first.isCompletedExceptionally();
        final boolean waits = !second.isDone();
        if (served)
        {
            first.join().close();
        }
        second.cancel(false);
        arena.close();
        System.out.println("probe: fixed-waiter-release refused " + refused + " first-served " + served +
            " second-waits " + waits);
    }

    /**
     * A request waiting for a slot when its arena closes on a full heap (another arena with a waiter closed first on a
     * heap with room), the close retried after each refusal with one heap filler let go: prints
     * {@code probe: fixed-waiter-close stranded S refused R warm-failed W closed-exception C left-regions N} where S is
     * 1 if the future was still not done once a close returned (its caller would wait until some later release, or for
     * ever), C whether it failed with {@link ArenaClosedException}, N the regions still held once the live buffer is
     * released. Before the fix a close refused failing the waiter only logged it and returned: stranded 1.
     */
    private static void waiterClose()
    {
        final long regions = NativeMemory.liveRegions();
        final FixedArena warm = FixedArena.builder(1, 8).build();
        final Buffer warmHeld = warm.allocate();
        final java.util.concurrent.CompletableFuture<Buffer> warmWaiter = warm.allocateAsync();
        warm.close();
        warmHeld.close();
        final boolean warmFailed = warmWaiter.isCompletedExceptionally();
        final FixedArena arena = FixedArena.builder(1, 8).build();
        final Buffer held = arena.allocate();
        final java.util.concurrent.CompletableFuture<Buffer> waiter = arena.allocateAsync();
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        while (true)
        {
            try
            {
                arena.close();
                break;
            }
            catch (final OutOfMemoryError full)
            {
                SEEN[refused] = full;
                refused++;
                if (!fillers.freeOne())
                {
                    break;
                }
            }
        }
        final boolean done = waiter.isDone();
        fillers.freeAll();
        boolean closedException = false;
        try
        {
            waiter.getNow(null);
        }
        catch (final java.util.concurrent.CompletionException e)
        {
            closedException = e.getCause() instanceof ArenaClosedException;
        }
        held.close();
        System.out.println("probe: fixed-waiter-close stranded " + (done ? 0 : 1) + " refused " + refused +
            " warm-failed " + warmFailed + " closed-exception " + closedException + " left-regions " +
            (NativeMemory.liveRegions() - regions));
        if (Boolean.getBoolean("probe.verbose"))
        {
            for (int i = 0; i < refused; i++)
            {
                SEEN[i].printStackTrace(System.out);
            }
            System.out.println(arena.metrics());
        }
    }

    private static void seen(final OutOfMemoryError full, final boolean done)
    {
        if (refused < SEEN.length)
        {
            SEEN[refused] = full;
            SEEN_STATE[refused] = done;
            SEEN_REGIONS[refused] = NativeMemory.liveRegions();
        }
        refused++;
    }

    private static void topUp()
    {
        for (int pass = 0; pass < 5; pass++)
        {
            try
            {
                while (topUps < TOP_UP.length)
                {
                    TOP_UP[topUps] = pass == 0 ? new byte[16] : new Object();
                    topUps++;
                }
            }
            catch (final OutOfMemoryError full)
            {
                // full for this size: the next pass tries smaller objects, or again
            }
        }
    }

    /** Lets go of one filler, the top-up's first. @return false when none was left. */
    private static boolean freeOne(final HeapFiller fillers)
    {
        if (topUps > 0)
        {
            TOP_UP[--topUps] = null;
            return true;
        }
        return fillers.freeOne();
    }

    /** Closes, letting go of one filler before each retry; {@code regions} below 0: something live keeps it. */
    private static void closeOnFullHeap(final Subject subject, final HeapFiller fillers, final long regions)
    {
        while (true)
        {
            try
            {
                subject.close();
                if (regions >= 0 && NativeMemory.liveRegions() != regions)
                {
                    broken++; // returned normally with its memory still held
                }
                return;
            }
            catch (final OutOfMemoryError full)
            {
                seen(full, subject.isClosed());
                if (subject.isClosed() && regions >= 0 && NativeMemory.liveRegions() != regions)
                {
                    broken++; // closed, its memory left to the safety net: a retry does nothing
                    return;
                }
                if (!freeOne(fillers))
                {
                    return;
                }
            }
        }
    }

    private static void releaseOnFullHeap(final Subject subject, final HeapFiller fillers, final long regions)
    {
        while (true)
        {
            try
            {
                subject.release();
                if (NativeMemory.liveRegions() != regions)
                {
                    broken++; // the last release after close returned with the region still held
                }
                return;
            }
            catch (final OutOfMemoryError full)
            {
                seen(full, subject.isReleased());
                if (subject.isReleased())
                {
                    if (NativeMemory.liveRegions() != regions)
                    {
                        broken++; // released, the region left to the safety net: nothing is left to retry
                    }
                    else
                    {
                        lateThrows++; // it did everything, then threw: a retry is a double release
                    }
                    return;
                }
                if (!freeOne(fillers))
                {
                    return;
                }
            }
        }
    }

    private static Subject subject(final String kind)
    {
        switch (kind)
        {
            case "fixed":
            case "fixed-jfr":
                return bytesOf(FixedArena.builder(16, 64).jfrEvents(kind.endsWith("jfr")).build());
            case "buddy":
            case "buddy-jfr":
                return bytesOf(BuddyArena.builder(4096, 64).jfrEvents(kind.endsWith("jfr")).build());
            case "fixed-handle":
                return handleOf(FixedArena.builder(16, 64).build(), null);
            case "buddy-handle":
                final BuddyArena buddy = BuddyArena.builder(4096, 64).build();
                return handleOf(buddy, buddy);
            case "slice":
                return slice(false);
            case "slice-ref":
                return slice(true);
            default:
                throw new IllegalArgumentException(kind);
        }
    }

    private static Subject bytesOf(final SlotArena arena)
    {
        return new Subject()
        {
            private Bytes bytes;

            @Override
            void allocate()
            {
                final Buffer buffer = arena instanceof FixedArena ?
                    ((FixedArena)arena).allocate() : ((BuddyArena)arena).allocate(100);
                buffer.putLong(42L);
                bytes = buffer.freeze();
            }

            @Override
            void close()
            {
                arena.close();
            }

            @Override
            boolean isClosed()
            {
                return arena.isClosed();
            }

            @Override
            void release()
            {
                bytes.release();
            }

            @Override
            boolean isReleased()
            {
                return bytes.isReleased();
            }

            @Override
            String hook()
            {
                try
                {
                    final Field field = arena.getClass().getDeclaredField("jfrHook");
                    field.setAccessible(true);
                    final JfrRegistration registration = (JfrRegistration)field.get(arena);
                    if (registration == null)
                    {
                        return "";
                    }
                    final Field removal = JfrRegistration.class.getDeclaredField("removal");
                    removal.setAccessible(true);
                    final Object action = removal.get(registration);
                    final Field done = action.getClass().getDeclaredField("done");
                    done.setAccessible(true);
                    return " hook-removed " + done.getBoolean(action);
                }
                catch (final ReflectiveOperationException ex)
                {
                    return " hook-removed unknown (" + ex + ")";
                }
            }
        };
    }

    private static Subject handleOf(final SlotArena arena, final BuddyArena buddy)
    {
        return new Subject()
        {
            private long handle;

            @Override
            void allocate()
            {
                handle = buddy != null ? buddy.allocateHandle(100) : ((FixedArena)arena).allocateHandle();
                arena.putLong(handle, 0, 42L);
                arena.freezeHandle(handle, 8);
            }

            @Override
            void close()
            {
                arena.close();
            }

            @Override
            boolean isClosed()
            {
                return arena.isClosed();
            }

            @Override
            void release()
            {
                arena.release(handle);
            }

            @Override
            boolean isReleased()
            {
                return !arena.isLive(handle);
            }
        };
    }

    private static Subject slice(final boolean ref)
    {
        final SliceAllocator allocator = SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(64).build();
        return new Subject()
        {
            private SharedSlice slice;
            private long reference;

            @Override
            void allocate()
            {
                if (ref)
                {
                    reference = allocator.allocateLongsRef(4, i -> i);
                }
                else
                {
                    slice = allocator.allocateLongs(4, i -> i);
                }
            }

            @Override
            void close()
            {
                allocator.close();
            }

            @Override
            boolean isClosed()
            {
                return allocator.isClosed();
            }

            @Override
            void release()
            {
                if (ref)
                {
                    allocator.release(reference);
                }
                else
                {
                    slice.release();
                }
            }

            @Override
            boolean isReleased()
            {
                return ref ? !allocator.isLive(reference) : slice.isReleased();
            }

            @Override
            long liveBytes()
            {
                return allocator.stats().liveSliceBytes();
            }
        };
    }
}
