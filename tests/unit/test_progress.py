"""Progress text: counts done of planned, an ETA at the pace so far, and a Spark job's task counts."""

from __future__ import annotations

from pyspark.core.status import SparkStageInfo

from sparkwright.progress import SparkTasks, TaskCounts, eta_seconds, format_duration, job_tasks, progress_text


def test_eta_is_the_average_pace_so_far():
    assert eta_seconds(10, 40, 20.0) == 60.0
    assert eta_seconds(0, 40, 20.0) is None  # nothing done yet: no pace
    assert eta_seconds(5, None, 20.0) is None  # an unknown plan
    assert eta_seconds(50, 40, 20.0) == 0.0


def test_durations_read_short():
    assert [format_duration(s) for s in (4.4, 59.6, 185, 3720)] == ["4s", "1m 00s", "3m 05s", "1h 02m"]


def test_progress_text_counts_and_estimates():
    assert progress_text(7, 30, "trials", 14.0) == "7/30 trials, ETA 46s"
    assert progress_text(0, 30, "trials", 3.0) == "0/30 trials"
    assert progress_text(30, 30, "trials", 60.0) == "30/30 trials"  # done: no ETA
    assert progress_text(1234, None, "rows", 5.0) == "1,234 rows"


def test_task_counts_name_what_they_count():
    assert TaskCounts(0, 0, 0).text(1.0) == "waiting for the first Spark job"
    assert TaskCounts(3, 8, 1).text(6.0) == "3/8 Spark tasks, ETA 10s"
    assert TaskCounts(12, 40, 2).text(12.0) == "12/40 Spark tasks (2 jobs), ETA 28s"


def _stage(stage_id: int, tasks: int, done: int, active: int = 0) -> SparkStageInfo:
    return SparkStageInfo(stage_id, 0, f"stage {stage_id}", tasks, active, done, 0)


def test_a_running_job_leaves_out_the_stages_it_skips():
    # Stage 4 wrote a shuffle an earlier job had already written: listed, never run.
    stages = [_stage(4, 8, 0), _stage(5, 8, 6, active=2), _stage(6, 4, 0)]
    assert job_tasks("RUNNING", stages) == (6, 12)


def test_a_finished_job_counts_the_tasks_that_ran():
    assert job_tasks("SUCCEEDED", [_stage(4, 8, 0), _stage(5, 8, 8), _stage(6, 4, 4)]) == (12, 12)


def test_spark_tasks_counts_the_jobs_started_in_the_block_only(spark):
    sc = spark.sparkContext
    with SparkTasks(spark, "counting") as tasks:
        assert tasks.available
        spark.range(0, 1_000, numPartitions=4).count()
    counts = tasks.counts()
    assert counts.jobs >= 1
    assert counts.done == counts.planned >= 4  # the 4 partitions, then the final count
    assert sc.getLocalProperty("spark.jobGroup.id") is None  # the thread's job group is put back
    spark.range(0, 1_000, numPartitions=3).count()
    assert tasks.counts() == counts  # a job after the block is not counted
