package dev.lake.examples;

import dev.lake.linear.Lake;
import dev.lake.memory.NativeMemory;
import dev.lake.pool.Buffer;
import dev.lake.pool.Bytes;
import dev.lake.pool.FixedArena;
import dev.lake.thread.AffinityHint;
import dev.lake.thread.ThreadLakes;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * The NUMA deployment pattern of the arena-alligator seed, on Lake's API: one {@link FixedArena} and one
 * {@link ThreadLakes} per NUMA node, each arena built and pre-faulted by a thread pinned to its node, worker
 * threads pinned to their node's CPUs (an {@link AffinityHint} applied when the thread takes its lake, before the
 * lake is first touched), allocation from the local node's arena
 * first, then a bounded fallback to the other nodes, then a timed wait on the local arena. Nodes are read from
 * {@code /sys/devices/system/node}; on a single-node machine (or elsewhere) the example runs with one node of
 * all CPUs, and the same code is correct on a multi-node machine. See docs/threads.md.
 */
public final class NumaDeployment
{
    private static final int WORKERS_PER_NODE = 2;
    private static final int MESSAGES_PER_WORKER = 20_000;
    private static final int CROSS_NODE_TRIES = 1;

    private NumaDeployment()
    {
    }

    /**
     * @param args ignored.
     * @throws Exception if a worker fails.
     */
    public static void main(final String[] args) throws Exception
    {
        final long baseline = NativeMemory.reservedBytes();
        final List<BitSet> nodes = nodes();
        System.out.printf("NUMA nodes: %d %s%n", nodes.size(), nodes);
        final List<Node> deployment = new ArrayList<>();
        for (int n = 0; n < nodes.size(); n++)
        {
            deployment.add(Node.buildOnItsNode(n, nodes.get(n)));
        }
        final AtomicLong local = new AtomicLong();
        final AtomicLong remote = new AtomicLong();
        final AtomicLong waited = new AtomicLong();
        final List<Thread> workers = new ArrayList<>();
        final AtomicReference<Throwable> workerFailure = new AtomicReference<>();
        for (final Node node : deployment)
        {
            for (int w = 0; w < WORKERS_PER_NODE; w++)
            {
                final Thread worker = new Thread(() ->
                {
                    node.lakes.init(); // pins the thread to its node (a hint), then first-touches its lake there
                    for (int i = 0; i < MESSAGES_PER_WORKER; i++)
                    {
                        final Buffer buffer = allocate(node, deployment, local, remote, waited);
                        buffer.putLong(i);
                        final Bytes bytes = buffer.freeze();
                        final Lake scratch = node.lakes.current(); // per-message scratch on the node-local lake
                        scratch.mark();
                        scratch.buffer().putLong(scratch.allocate(64), i); // with(...) would box the offset it returns
                        scratch.resetToMark();
                        bytes.release();
                    }
                    node.lakes.release();
                }, "node" + node.id + "-worker" + w);
                worker.setUncaughtExceptionHandler((t, ex) -> workerFailure.compareAndSet(null, ex));
                workers.add(worker);
                worker.start();
            }
        }
        for (final Thread worker : workers)
        {
            worker.join();
        }
        if (workerFailure.get() != null)
        {
            deployment.forEach(Node::close);
            throw new IllegalStateException("a worker failed", workerFailure.get());
        }
        System.out.printf("allocations: %,d node-local, %,d cross-node fallback, %,d after a wait%n",
            local.get(), remote.get(), waited.get());
        for (final Node node : deployment)
        {
            System.out.printf("node %d: %s%n", node.id, node.arena.metrics());
            node.close();
        }
        System.out.printf("closed: native bytes held: %,d%n", NativeMemory.reservedBytes() - baseline);
    }

    private static Buffer allocate(
        final Node home, final List<Node> deployment, final AtomicLong local, final AtomicLong remote,
        final AtomicLong waited)
    {
        Buffer buffer = home.arena.tryAllocate();
        if (buffer != null)
        {
            local.incrementAndGet();
            return buffer;
        }
        // bounded cross-node fallback: a remote slot is slower to touch than a short wait for a local one
        for (int tries = 0, n = (home.id + 1) % deployment.size(); tries < CROSS_NODE_TRIES && n != home.id;
            tries++, n = (n + 1) % deployment.size())
        {
            buffer = deployment.get(n).arena.tryAllocate();
            if (buffer != null)
            {
                remote.incrementAndGet();
                return buffer;
            }
        }
        try
        {
            buffer = home.arena.allocate(Duration.ofSeconds(5));
            waited.incrementAndGet();
            return buffer;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
        }
    }

    /** The CPUs of each NUMA node, or one node of every CPU where the machine does not say. */
    static List<BitSet> nodes()
    {
        final List<BitSet> nodes = new ArrayList<>();
        final Path root = Path.of("/sys/devices/system/node");
        if (Files.isDirectory(root))
        {
            try (Stream<Path> entries = Files.list(root))
            {
                entries.filter(p -> p.getFileName().toString().matches("node\\d+"))
                    .sorted()
                    .forEach(p -> readCpuList(p.resolve("cpulist"), nodes));
            }
            catch (final IOException ex)
            {
                nodes.clear();
            }
        }
        if (nodes.isEmpty())
        {
            final BitSet all = new BitSet();
            all.set(0, Runtime.getRuntime().availableProcessors());
            nodes.add(all);
        }
        return nodes;
    }

    private static void readCpuList(final Path file, final List<BitSet> nodes)
    {
        try
        {
            final BitSet cpus = new BitSet();
            for (final String range : Files.readString(file).trim().split(","))
            {
                if (range.isEmpty())
                {
                    continue;
                }
                final String[] bounds = range.split("-");
                final int from = Integer.parseInt(bounds[0]);
                final int to = bounds.length > 1 ? Integer.parseInt(bounds[1]) : from;
                cpus.set(from, to + 1);
            }
            if (!cpus.isEmpty())
            {
                nodes.add(cpus);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            // an unreadable node is left out; the machine still runs on the others
        }
    }

    /** What one NUMA node gets: its own slot arena and its own pinned thread lakes. */
    private static final class Node implements AutoCloseable
    {
        final int id;
        final FixedArena arena;
        final ThreadLakes lakes;

        private Node(final int id, final AffinityHint hint)
        {
            this.id = id;
            // built on a thread pinned to the node, every page touched at build: the slots are node-local
            this.arena = FixedArena.builder(64, 1024).name("node-" + id).preFault(true).build();
            this.lakes = ThreadLakes.builder(64 * 1024).poolBound(WORKERS_PER_NODE).affinity(hint).build();
        }

        /**
         * Step 2 of the guide in docs/threads.md: the node's arena is built (and pre-faulted) by a thread the
         * node's hint pinned first, so the kernel's first-touch policy places its pages on that node.
         */
        static Node buildOnItsNode(final int id, final BitSet cpus) throws InterruptedException
        {
            final AffinityHint hint = AffinityHint.anyOf(cpus, "node " + id);
            final Node[] built = new Node[1];
            final RuntimeException[] failed = new RuntimeException[1];
            final Thread builder = new Thread(() ->
            {
                try
                {
                    hint.applyToCurrentThread();   // a hint: without OpenHFT's affinity library it is logged and ignored
                    built[0] = new Node(id, hint);
                }
                catch (final RuntimeException ex)
                {
                    failed[0] = ex;
                }
            }, "node" + id + "-builder");
            builder.start();
            builder.join();
            if (failed[0] != null)
            {
                throw failed[0];
            }
            return built[0];
        }

        @Override
        public void close()
        {
            lakes.close();
            arena.close();
        }
    }
}
