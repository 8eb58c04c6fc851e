from engine.stocking.outcome import Outcome
def solve_decomp(problem, settings):
    raise NotImplementedError
