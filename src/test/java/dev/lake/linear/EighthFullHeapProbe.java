package dev.lake.linear;

import dev.lake.testing.HeapFiller;

/**
 * Child JVM of {@link EighthReviewLakeTest}: fills a small heap, then calls one lake operation on many lakes, letting
 * go of one heap filler before each call so that the {@link OutOfMemoryError} meets each of the operation's heap
 * allocations in turn; then frees the heap and checks what every refused call left behind. Prints one line,
 * {@code probe: <mode> changed C broken B after R refusals, D done}.
 *
 * <p>Modes: {@code sandbox} (the fifth sandbox of a lake, which doubles the two sandbox stacks from 4 to 8);
 * {@code droplet}, {@code split}, {@code process} (the first handle of a fresh lake: the handle object and the first
 * growth of the handle stack).
 */
public final class EighthFullHeapProbe
{
    private static final int DEPTH = 4;

    private EighthFullHeapProbe()
    {
    }

    static int keepFour(final org.agrona.MutableDirectBuffer buffer, final int offset, final int capacity)
    {
        return 4;
    }

    public static void main(final String[] args)
    {
        final String mode = args[0];
        final int count = 300;
        final Lake[] lakes = new Lake[count];
        final DropletWriter writer = EighthFullHeapProbe::keepFour;
        try (Lake warm = Lake.of(4096)) // links every path before the heap is full
        {
            for (int i = 0; i <= DEPTH; i++)
            {
                warm.beginSandbox();
            }
            warm.reset();
            warm.droplet(8).close();
            warm.split(64).close();
            warm.process(writer).close();
        }
        for (int i = 0; i < count; i++)
        {
            lakes[i] = Lake.of(256);
            if (mode.equals("sandbox"))
            {
                for (int d = 0; d < DEPTH; d++)
                {
                    lakes[i].beginSandbox();
                }
            }
        }
        int refused = 0;
        int done = 0;
        int changed = 0;
        final int[] positions = new int[count];
        final HeapFiller fillers = HeapFiller.fill(1 << 21);
        for (int i = 0; i < count; i++)
        {
            if (!fillers.freeOne())
            {
                break;
            }
            final Lake lake = lakes[i];
            try
            {
                switch (mode)
                {
                    case "sandbox" -> lake.beginSandbox();
                    case "droplet" -> lake.droplet(8);
                    case "split" -> lake.split(64);
                    case "process" -> lake.process(writer);
                    default -> throw new IllegalArgumentException(mode);
                }
                done++;
                positions[i] = -1;
            }
            catch (final OutOfMemoryError refusedByTheHeap)
            {
                refused++;
                positions[i] = lake.position(); // a refused call changes nothing
                if (positions[i] != 0 || lake.openSandboxes() != (mode.equals("sandbox") ? DEPTH : 0))
                {
                    changed++;
                }
            }
        }
        fillers.freeAll();
        int broken = 0;
        for (final Lake lake : lakes)
        {
            try
            {
                // every lake still works: a sandbox opens and ends, a droplet is made and given back
                final long token = lake.beginSandbox();
                lake.droplet(8).close();
                lake.endSandbox(token);
                try (Sandbox s = lake.sandbox())
                {
                    s.droplet(8);
                }
            }
            catch (final RuntimeException | Error ex)
            {
                if (broken++ == 0)
                {
                    ex.printStackTrace(System.out);
                }
            }
            lake.close();
        }
        System.out.println("probe: " + mode + " changed " + changed + " broken " + broken + " after " + refused +
            " refusals, " + done + " done");
        System.out.flush();
    }
}
