"""The thread policy: one intra-op thread on the CPU unless AMLAB_THREADS or OMP_NUM_THREADS says otherwise."""
import pytest
import torch

from simulations.threads import apply_thread_policy, thread_count


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("AMLAB_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    return monkeypatch


def test_cpu_default_is_one_thread(clean_env, restore_threads):
    torch.set_num_threads(2)
    assert thread_count("cpu") == 1
    assert apply_thread_policy("cpu") == 1 == torch.get_num_threads()


def test_user_choices_win(clean_env, restore_threads):
    clean_env.setenv("OMP_NUM_THREADS", "2")
    torch.set_num_threads(2)
    assert thread_count("cpu") is None
    assert apply_thread_policy("cpu") == 2
    clean_env.setenv("AMLAB_THREADS", "3")
    assert thread_count("cpu") == 3
    assert apply_thread_policy("cpu") == 3


def test_gpu_leaves_threads_alone(clean_env):
    assert thread_count("cuda") is None
    assert thread_count(torch.device("cuda", 0)) is None


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_bad_counts_fail_naming_the_variable(clean_env, value):
    clean_env.setenv("AMLAB_THREADS", value)
    with pytest.raises(ValueError, match="AMLAB_THREADS.*integer >= 1"):
        thread_count("cpu")
