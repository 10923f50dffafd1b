import os
import sys

sys.path.insert(0, os.path.dirname(__file__))                     # tests/reference.py
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))    # the project root
