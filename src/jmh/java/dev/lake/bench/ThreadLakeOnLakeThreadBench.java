package dev.lake.bench;

import dev.lake.thread.LakeThread;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Setup;

/**
 * {@link ThreadLakeBench}'s two benchmarks run on {@link LakeThread}s (JMH's workers come from
 * {@link LakeThreadExecutor}): {@code current()} is then a type check and a field read instead of a
 * {@code ThreadLocal} lookup. The local-lake benchmark runs again in this fork so the ratio is taken in one JVM.
 */
@Fork(value = 1,
    // prepended: a command-line -jvmArgsAppend would replace the annotation's append, never the prepend
    jvmArgsPrepend = {"-Djmh.executor=CUSTOM", "-Djmh.executor.class=dev.lake.bench.LakeThreadExecutor"},
    jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
public class ThreadLakeOnLakeThreadBench extends ThreadLakeBench
{
    /** Refuses to measure anything but the fast path: the figures would be mislabelled otherwise. */
    @Setup(Level.Trial)
    public void checkWorkerIsALakeThread()
    {
        if (!(Thread.currentThread() instanceof LakeThread))
        {
            throw new IllegalStateException("JMH worker " + Thread.currentThread() + " is not a LakeThread: " +
                "run with -Djmh.executor=CUSTOM -Djmh.executor.class=" + LakeThreadExecutor.class.getName());
        }
    }
}
